-- Load the airports dimension from its CSV in S3, replacing what was there (idempotent: one batch, so
-- the DELETE and the COPY commit together). COPY takes no bind parameters: the caller fills the
-- placeholders {bucket}, {key}, {role_arn} and {region} (Python str.format-style braces) with
-- validated values before sending the batch.
DELETE FROM airlines.airports_dim;
COPY airlines.airports_dim FROM 's3://{bucket}/{key}' IAM_ROLE '{role_arn}' DELIMITER ',' IGNOREHEADER 1 REGION '{region}';
