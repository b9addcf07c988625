"""Redshift on the local stack, in layers (as moto's services are):

- `data_api.py`  request handling: the Redshift Data API actions (`validation.py` checks requests as AWS does,
                 `shapes.py` writes the answers, `metadata.py` reads the catalog for ListSchemas/Tables, DescribeTable)
- `statements.py` the statement model: statements run asynchronously per database, cancellation
- `translate.py` Redshift SQL → DuckDB SQL (sqlglot), statement splitting, parameter binding
- `copy.py`      COPY from the local S3 into a table
- `database.py`  one Redshift database in one DuckDB file: transactions, results
- `types.py`, `errors.py`  Redshift's type names and the engine's error
"""
