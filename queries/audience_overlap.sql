-- name: audience_overlap
-- description: The advertiser's CRM list against the retailer's shoppers, by CRM segment and shopper region (CRM people who are not shoppers in region 'unmatched')
-- purpose: audience_sizing
-- param: crm_segments list[str] = ["loyal", "lapsed", "prospect"]
SELECT
    a.segment AS crm_segment,
    CASE
        WHEN c.region = 'north' THEN 'north'
        WHEN c.region = 'south' THEN 'south'
        WHEN c.region = 'east' THEN 'east'
        WHEN c.region = 'west' THEN 'west'
        ELSE 'unmatched'
    END AS region,
    COUNT(DISTINCT a.pid) AS people
FROM crm AS a
LEFT JOIN customers AS c
    ON c.pid = a.pid
WHERE a.segment IN :crm_segments
GROUP BY 1, 2
