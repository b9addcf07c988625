-- Both sides of every flight resolve to an airport of the dimension.
SELECT f.flight_date, f.load_id, f.source_line, f.dep_airport, f.arr_airport
FROM airlines.daily_flights_fact f
WHERE f.dep_airport IS NULL
   OR f.arr_airport IS NULL
   OR NOT EXISTS (SELECT 1 FROM airlines.airports_dim d WHERE d.name = f.dep_airport)
   OR NOT EXISTS (SELECT 1 FROM airlines.airports_dim d WHERE d.name = f.arr_airport)
ORDER BY f.flight_date, f.source_line;
