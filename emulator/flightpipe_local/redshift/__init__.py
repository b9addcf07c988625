"""Redshift on the local stack, in layers (as moto's services are):

- `data_api.py`   request handling: the Redshift Data API actions (`validation.py` checks requests as AWS does,
                  `shapes.py` writes the answers, `metadata.py` reads the catalog for ListSchemas/Tables, DescribeTable)
- `statements.py` the statement model: statements run asynchronously per database, cancellation
- `translate.py`  Redshift SQL → DuckDB SQL (sqlglot), statement splitting, parameter binding; with `dialect.py`
                  (parsing), `names.py` (result names), `functions.py`, `to_char.py` (functions), `ddl.py` (CREATE)
- `catalog.py`    information_schema, pg_catalog, pg_table_def, svv_table_info, stl_load_errors
- `copy.py`       COPY from the local S3 into a table (`copy_options.py` parameters, `copy_formats.py` fields)
- `unload.py`     UNLOAD to the local S3 (`local_s3.py`: the stack's S3 as the engine reads and writes it)
- `database.py`   one Redshift database in one DuckDB file: sessions, transactions, results
- `types.py`, `errors.py`  Redshift's type names and the engine's error, in Redshift's words
"""
