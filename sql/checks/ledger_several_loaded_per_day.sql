-- A day has at most one LOADED ledger row: loading a new version supersedes the previous one.
SELECT flight_date, COUNT(*) AS loaded_rows, LISTAGG(load_id, ', ') WITHIN GROUP (ORDER BY load_id) AS load_ids
FROM airlines.load_ledger
WHERE status = 'LOADED'
GROUP BY flight_date
HAVING COUNT(*) > 1
ORDER BY flight_date;
