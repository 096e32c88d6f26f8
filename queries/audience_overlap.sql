-- name: audience_overlap
-- description: The advertiser's CRM list against the retailer's shoppers, by CRM segment and shopper region (unmatched CRM people in region 'unmatched')
-- purpose: audience_sizing
-- param: crm_segments list[str] = ["loyal", "lapsed", "prospect"]
SELECT
    a.segment AS crm_segment,
    COALESCE(c.region, 'unmatched') AS region,
    COUNT(DISTINCT a.pid) AS people
FROM crm AS a
LEFT JOIN customers AS c
    ON c.pid = a.pid
WHERE a.segment IN :crm_segments
GROUP BY a.segment, COALESCE(c.region, 'unmatched')
