-- name: reach_frequency
-- description: People reached and impressions per campaign, split by frequency bucket (impressions per person)
-- purpose: measurement
-- param: campaign_ids list[str] = ["c1", "c2", "c3", "c4"]
WITH per_person AS (
    SELECT pid, campaign_id, COUNT(*) AS frequency
    FROM exposures
    WHERE campaign_id IN :campaign_ids
    GROUP BY pid, campaign_id
)
SELECT
    f.campaign_id,
    CASE
        WHEN f.frequency = 1 THEN '1'
        WHEN f.frequency <= 3 THEN '2-3'
        WHEN f.frequency <= 6 THEN '4-6'
        WHEN f.frequency <= 10 THEN '7-10'
        ELSE '11+'
    END AS frequency_bucket,
    COUNT(DISTINCT e.pid) AS reach,
    COUNT(*) AS impressions
FROM exposures AS e
INNER JOIN per_person AS f
    ON f.pid = e.pid
    AND f.campaign_id = e.campaign_id
WHERE f.campaign_id IN :campaign_ids
GROUP BY f.campaign_id, frequency_bucket
