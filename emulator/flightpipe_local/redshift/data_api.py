"""The Redshift Data API of the local stack: moto's `redshift-data` service, running SQL for real.

moto ships the Data API's request handler with canned results. `install(ctx)` replaces its actions with
ones that run the SQL on local databases (`database.Database`, one DuckDB file per database of each cluster
or workgroup, `<state_dir>/warehouse/<cluster>/<database>.duckdb`; deleting the cluster deletes its data,
as on AWS without a final snapshot) and adds the actions moto lacks (BatchExecuteStatement, ListStatements,
GetStatementResultV2, ListDatabases, ListSchemas, ListTables, DescribeTable). Requests are checked as the
Data API Reference specifies (`validation.py`); statements run asynchronously (`statements.py`); callers
poll DescribeStatement and page through GetStatementResult.

Fault switch: while `<state_dir>/warehouse.offline` exists, the actions that reach the database answer
HTTP 500 `InternalServerException` ("cluster unavailable"); SDKs treat that as a retryable service fault,
and clients see it once their retries run out.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from moto.redshift.models import RedshiftBackend
from moto.redshiftdata.exceptions import ValidationException
from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse

from flightpipe_local import context
from flightpipe_local.context import StackContext
from flightpipe_local.patches import Patch
from flightpipe_local.redshift import metadata, validation
from flightpipe_local.redshift.errors import EngineError
from flightpipe_local.redshift.shapes import PAGE_SIZE, csv_page, describe, describe_sub, json_page, without_none
from flightpipe_local.redshift.statements import Statement, StatementService, plain_error
from flightpipe_local.redshift.validation import InternalServerException, ResourceNotFoundException

OFFLINE_FLAG = "warehouse.offline"
LIST_STATEMENTS_MAX = 100  # ListStatementsLimit
METADATA_MAX = 1000  # PageSize of ListDatabases, ListSchemas, ListTables, DescribeTable
SERVERLESS_DATABASE = "dev"  # the database every Redshift Serverless namespace starts with
__all__ = ["PAGE_SIZE", "OFFLINE_FLAG", "install", "shutdown", "service"]

def service() -> StatementService:
    """The Data API of the stack this request is for."""
    return context.current().service("redshift-data", _not_installed)


def _not_installed() -> StatementService:
    raise RuntimeError("data_api.install(ctx) has not been called for this stack")


# ---------------------------------------------------------------- request checks shared by the actions


def _online() -> None:
    if (service().ctx.state_dir / OFFLINE_FLAG).exists():
        raise InternalServerException("The Redshift cluster is unavailable; try again later.")


def _connection(request: RedshiftDataAPIServiceResponse, needs_database: bool = True) -> dict[str, Any]:
    """ClusterIdentifier or WorkgroupName, SecretArn, DbUser and Database, checked as AWS checks them."""
    account, region = request.current_account, request.region
    cluster, workgroup = request._get_param("ClusterIdentifier"), request._get_param("WorkgroupName")
    target = validation.target(cluster, workgroup)
    if cluster:
        from moto.redshift.models import redshift_backends

        if cluster not in redshift_backends[account][region].clusters:
            raise ValidationException("Redshift endpoint doesn't exist in this region.")
    secret_arn = request._get_param("SecretArn")
    if secret_arn:
        from moto.secretsmanager.models import secretsmanager_backends

        if secret_arn not in secretsmanager_backends[account][region].secrets:
            raise ValidationException(f"Secrets Manager can't find the specified secret: {secret_arn}")
    name = request._get_param("Database")
    if needs_database or name:
        name = validation.database(name)
    return {"target": target, "cluster_identifier": cluster, "workgroup_name": workgroup,
            "secret_arn": secret_arn, "db_user": request._get_param("DbUser"), "database": name}


def _find(request: RedshiftDataAPIServiceResponse) -> tuple[Statement, int]:
    """The statement an Id names and, for `<id>:N`, its sub-statement number N (0 for the statement)."""
    statement_id = request._get_param("Id")
    base, number = validation.statement_id(statement_id)
    statement = service().statements.get(base)
    if statement is None or statement.account != request.current_account or statement.region != request.region:
        raise ResourceNotFoundException(statement_id)
    if number is None:
        return statement, 0
    if not 1 <= number <= len(statement.subs):
        raise ResourceNotFoundException(statement_id)
    return statement, number


def _submit(request: RedshiftDataAPIServiceResponse, sqls: list[str], is_batch: bool) -> Statement:
    _online()
    validation.not_emulated(request._get_param)
    connection = _connection(request)
    token = request._get_param("ClientToken")
    if token is not None:
        validation.client_token(token)
        earlier = service().statements.get(service().client_tokens.get(token, ""))
        if earlier is not None:  # the same request again: the statement it made, not a second one
            return earlier
    if service().active(connection["target"]) >= validation.MAX_ACTIVE:
        raise validation.ActiveStatementsExceededException(validation.MAX_ACTIVE)
    name = request._get_param("StatementName")
    if name is not None and len(name) > 2048:
        raise validation.constraint("statementName", name[:40] + "...", "have length less than or equal to 2048")
    statement = Statement(
        account=request.current_account, region=request.region, database=connection["database"], sqls=sqls,
        is_batch=is_batch, parameters=validation.parameters(request._get_param("Parameters")),
        cluster_identifier=connection["cluster_identifier"], workgroup_name=connection["workgroup_name"],
        db_user=connection["db_user"], secret_arn=connection["secret_arn"], statement_name=name,
        result_format=validation.one_of("resultFormat", request._get_param("ResultFormat"),
                                        validation.RESULT_FORMATS, "JSON"),
    )
    if token is not None:
        service().client_tokens[token] = statement.id
    return service().submit(statement)


def _waited(request: RedshiftDataAPIServiceResponse, statement: Statement) -> bool:
    """WaitTimeSeconds (ExecuteStatement, DescribeStatement, GetStatementResult): wait up to that long for the
    statement to end; True when the caller asked to wait."""
    seconds = validation.wait_time(request._get_param("WaitTimeSeconds"))
    if seconds is None:
        return False
    service().wait_until_ended(statement, seconds)
    return True


def _paged(request: RedshiftDataAPIServiceResponse, action: str, key: str, items: list, maximum: int,
           default: int, extra: dict[str, Any] | None = None):
    """One page of `items` under `key`, with NextToken when more follow (ListStatements and the metadata)."""
    start = validation.decode_token(action, request._get_param("NextToken"))
    size = validation.page_size(request._get_param("MaxResults"), maximum, default)
    body: dict[str, Any] = {**(extra or {}), key: items[start : start + size]}
    if start + size < len(items):
        body["NextToken"] = validation.encode_token(action, start + size)
    return _ok(body)


def _ok(body: dict[str, Any]):
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body)


def _submitted(request: RedshiftDataAPIServiceResponse, statement: Statement):
    waited = _waited(request, statement)
    return _ok(without_none({
        "Id": statement.id,
        "CreatedAt": statement.created_at,
        "Database": statement.database,
        "ClusterIdentifier": statement.cluster_identifier,
        "WorkgroupName": statement.workgroup_name,
        "DbUser": statement.db_user,
        "SecretArn": statement.secret_arn,
        **({"Status": statement.status, "RedshiftPid": statement.redshift_pid,
            "HasResultSet": describe(statement)["HasResultSet"]} if waited else {}),
    }))


# ---------------------------------------------------------------- the actions moto will dispatch to


def execute_statement(self: RedshiftDataAPIServiceResponse):
    return _submitted(self, _submit(self, [validation.sql(self._get_param("Sql"))], is_batch=False))


def batch_execute_statement(self: RedshiftDataAPIServiceResponse):
    return _submitted(self, _submit(self, validation.sqls(self._get_param("Sqls")), is_batch=True))


def describe_statement(self: RedshiftDataAPIServiceResponse):
    statement, number = _find(self)
    _waited(self, statement)
    if number:
        return _ok(describe_sub(statement, statement.subs[number - 1]))
    return _ok(describe(statement))


def _result(request: RedshiftDataAPIServiceResponse, result_format: str):
    """The result a GetStatementResult call may read: of a finished statement with a result set."""
    statement, number = _find(request)
    _waited(request, statement)
    if statement.result_format != result_format:
        action = "GetStatementResult" if statement.result_format == "JSON" else "GetStatementResultV2"
        raise ValidationException(f"This statement ran with ResultFormat {statement.result_format}: read its "
                                  f"result with {action}.")
    if statement.is_batch and not number:
        raise ValidationException("Batch statement results are read per sub-statement: use Id '<id>:N'.")
    status = statement.subs[number - 1].status if number else statement.status
    result = statement.subs[number - 1].result if number else statement.result
    if status != "FINISHED" or result is None or not result.has_result_set:
        raise ValidationException("Query does not have result. Please check query status with DescribeStatement.")
    return result


def get_statement_result(self: RedshiftDataAPIServiceResponse):
    return _ok(json_page(_result(self, "JSON"), self._get_param("NextToken")))


def get_statement_result_v2(self: RedshiftDataAPIServiceResponse):
    return _ok(csv_page(_result(self, "CSV"), self._get_param("NextToken")))


def list_statements(self: RedshiftDataAPIServiceResponse):
    # "By default, only finished statements are shown." (Data API Reference, ListStatements)
    status = validation.one_of("status", self._get_param("Status"), validation.STATUSES, "FINISHED")
    name = self._get_param("StatementName")
    cluster, workgroup = self._get_param("ClusterIdentifier"), self._get_param("WorkgroupName")
    if cluster and workgroup:
        validation.target(cluster, workgroup)  # refuses both, as for every other action
    filters = {"database": self._get_param("Database"), "cluster_identifier": cluster, "workgroup_name": workgroup}
    matching = [
        s for s in list(service().statements.values())
        if s.account == self.current_account and s.region == self.region
        and status in ("ALL", s.status)
        and (not name or (s.statement_name or "").startswith(name))  # a case-sensitive prefix
        and all(not wanted or getattr(s, attr) == wanted for attr, wanted in filters.items())
    ]
    matching.sort(key=lambda s: s.created_at, reverse=True)
    entries = [_list_entry(s) for s in matching]
    return _paged(self, "ListStatements", "Statements", entries, LIST_STATEMENTS_MAX, LIST_STATEMENTS_MAX)


def _list_entry(statement: Statement) -> dict[str, Any]:
    body = {
        "Id": statement.id,
        "Status": statement.status,
        "StatementName": statement.statement_name,
        "CreatedAt": statement.created_at,
        "UpdatedAt": statement.updated_at,
        "SecretArn": statement.secret_arn,
        "IsBatchStatement": statement.is_batch,
        "QueryParameters": statement.parameters or None,
        "ResultFormat": statement.result_format,
    }
    if statement.is_batch:
        body["QueryStrings"] = statement.sqls
    else:
        body["QueryString"] = statement.sqls[0]
    return without_none(body)


def cancel_statement(self: RedshiftDataAPIServiceResponse):
    statement, _ = _find(self)
    service().cancel(statement, self._get_param("Id"))
    return _ok({"Status": True})


def list_databases(self: RedshiftDataAPIServiceResponse):
    _online()
    connection = _connection(self, needs_database=False)
    names = set(service().database_names(connection["target"]))
    if connection["cluster_identifier"]:
        from moto.redshift.models import redshift_backends

        cluster = redshift_backends[self.current_account][self.region].clusters[connection["cluster_identifier"]]
        names.add(cluster.db_name)  # the database CreateCluster made (DBName, "dev" by default)
    else:
        names.add(SERVERLESS_DATABASE)
    return _paged(self, "ListDatabases", "Databases", sorted(names), METADATA_MAX, METADATA_MAX)


def _catalog(self: RedshiftDataAPIServiceResponse, read):
    """Run a catalog read on the database the request names; engine failures are the service's."""
    _online()
    connection = _connection(self)
    database = service().catalog_reader(connection["target"], connection["database"])
    try:
        return read(database, connection["database"])
    except EngineError as exc:
        raise InternalServerException(plain_error(f"Reading the catalog failed: {exc}")) from None


def list_schemas(self: RedshiftDataAPIServiceResponse):
    found = _catalog(self, lambda db, name: metadata.schemas(db, name, self._get_param("SchemaPattern")))
    return _paged(self, "ListSchemas", "Schemas", found, METADATA_MAX, METADATA_MAX)


def list_tables(self: RedshiftDataAPIServiceResponse):
    found = _catalog(self, lambda db, name: metadata.tables(
        db, name, self._get_param("SchemaPattern"), self._get_param("TablePattern")))
    return _paged(self, "ListTables", "Tables", found, METADATA_MAX, METADATA_MAX)


def describe_table(self: RedshiftDataAPIServiceResponse):
    table = self._get_param("Table")
    found = _catalog(self, lambda db, name: metadata.columns(db, name, self._get_param("Schema"), table))
    return _paged(self, "DescribeTable", "ColumnList", found, METADATA_MAX, METADATA_MAX,
                  extra=without_none({"TableName": table}))


def patches() -> list[Patch]:
    """Everything this module changes in moto (applied and reverted by `flightpipe_local.patches`)."""
    api = RedshiftDataAPIServiceResponse
    return [
        *(Patch(api, action.__name__, action)  # moto answers these with canned results
          for action in (execute_statement, describe_statement, get_statement_result, cancel_statement)),
        *(Patch.new(api, action.__name__, action)  # moto lacks these
          for action in (batch_execute_statement, get_statement_result_v2, list_statements, list_databases,
                         list_schemas, list_tables, describe_table)),
        Patch(RedshiftBackend, "delete_cluster", _delete_cluster_and_its_data),
    ]


def install(ctx: StackContext) -> None:
    """Serve the stack's Data API from local databases under `ctx.state_dir`."""
    ctx.service("redshift-data", lambda: StatementService(ctx))


_moto_delete_cluster = RedshiftBackend.delete_cluster


def _delete_cluster_and_its_data(self: RedshiftBackend, **kwargs):
    cluster = _moto_delete_cluster(self, **kwargs)
    data_api = context.current().services.get("redshift-data")
    if data_api is not None:
        data_api.drop_target(cluster.cluster_identifier)
    return cluster


@contextlib.contextmanager
def frozen_databases(ctx: StackContext | None = None):
    """Every open database of the stack locked and checkpointed (`Database.frozen`), and none opened meanwhile:
    the warehouse folder's files may be copied as one consistent state."""
    data_api = (ctx or context.current()).services.get("redshift-data")
    if data_api is None:
        yield []
        return
    with data_api.frozen() as databases:
        yield databases


def shutdown(ctx: StackContext | None = None) -> None:
    """Stop the stack's workers and close its DuckDB files."""
    data_api = (ctx or context.current()).services.pop("redshift-data", None)
    if data_api is not None:
        data_api.close()
