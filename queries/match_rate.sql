-- name: match_rate
-- description: The advertiser's CRM list matched to the retailer's customers, by CRM segment: list size, matched people and the match rate (matched / list size, computed after noise)
-- purpose: audience_sizing
-- param: crm_segments list[str] = ["loyal", "lapsed", "prospect"]
SELECT
    a.segment AS crm_segment,
    COUNT(DISTINCT a.pid) AS list_size,
    COUNT(DISTINCT a.pid) FILTER (WHERE c.pid IS NOT NULL) AS matched,
    COUNT(DISTINCT a.pid) FILTER (WHERE c.pid IS NOT NULL) / COUNT(DISTINCT a.pid) AS match_rate
FROM crm AS a
LEFT JOIN customers AS c
    ON c.pid = a.pid
WHERE a.segment IN :crm_segments
GROUP BY a.segment
