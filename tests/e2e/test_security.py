"""Security through the chain and on what provisioning created: hostile parameters and keys, SQL built only
with `:name` parameters, least-privilege IAM read back from the stack, no secrets in any run output, a
private, versioned, encrypted bucket.

That the stack listens on 127.0.0.1 only is proven by tests/local/test_server.py
(`test_stack_listens_on_loopback_only`, which reads the kernel's socket tables); it is not repeated here.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from pathlib import Path
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError
from e2e_support import ROOT, compare, expected_facts, to_csv

from flightpipe import policies
from flightpipe.runbook import NOTEBOOKS, RunbookFailed, run_runbook

HOSTILE_RUN_DATE = "2013-01-01'; DROP TABLE airlines.daily_flights_fact; --"
HOSTILE_KEYS = [
    "raw/flights/date=2013-01-01';DROP TABLE x;--/flights.csv",
    "raw/flights/date=../../x/flights.csv",
]
TABLES = ["airports_dim", "daily_flights_fact", "load_ledger"]

pytestmark = pytest.mark.e2e


def warehouse_state(chain) -> dict:
    """What must not change: the tables that exist and how many rows each holds."""
    tables = chain.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'airlines'")
    return {"tables": sorted(set(tables.table_name) & set(TABLES)), **chain.table_counts()}


# ---- 6. hostile parameters -------------------------------------------------------------------------------


def test_a_run_date_carrying_sql_is_refused_before_sql_or_s3(chain, tmp_path, reliability, count_executions):
    before = (warehouse_state(chain), chain.raw_versions())
    chain.run_dirs.append(tmp_path)
    with pytest.raises(RunbookFailed) as failed:
        run_runbook("daily", {"run_date": HOSTILE_RUN_DATE}, out_dir=tmp_path)
    assert str(failed.value).startswith("-p run_date ") and "not a date" in str(failed.value)
    assert not list(tmp_path.glob("*.ipynb")), "refused by the runner's date check, before any notebook ran"
    assert (warehouse_state(chain), chain.raw_versions()) == before
    assert warehouse_state(chain)["tables"] == TABLES
    assert count_executions() == 0
    reliability.record("hostile run_date given to the daily runbook", executions=count_executions(),
                       outcome="RunbookFailed at the runner's date check; nothing reached S3 or SQL")


def test_keys_carrying_sql_or_a_path_traversal_fail_cleanly_and_change_nothing(chain, day_rows, reliability,
                                                                             count_executions):
    before = warehouse_state(chain)
    derived = {p: chain.keys(p) for p in (chain.names.rejects_prefix, chain.names.staging_prefix)}
    body = to_csv(day_rows("2013-07-01"))
    uploads = {}

    def put(key):
        uploads[key] = chain.upload(key, body)

    threads = [threading.Thread(target=put, args=(key,)) for key in HOSTILE_KEYS]  # 2 runs: Glue's limit
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in HOSTILE_KEYS:
        outcome = chain.finish(chain.wait_for_execution(uploads[key]))  # at most one execution per upload
        assert outcome.status == "FAILED"
        assert key in outcome.message and "is not a daily flights file" in outcome.message, outcome.message
        chain.assert_raw_intact(uploads[key])
    assert warehouse_state(chain) == before
    assert {p: chain.keys(p) for p in derived} == derived

    # The pipeline still works: a real day uploaded after them loads (see also the catalogue test below).
    good = chain.upload(chain.key("2013-07-01"), body)
    outcome = chain.follow(good)
    assert outcome.status == "SUCCEEDED", outcome.cause
    comparison = compare(chain.facts("2013-07-01"), expected_facts(body))
    assert comparison.exact, comparison
    assert chain.check_violations() == {}
    reliability.record("hostile S3 keys (SQL, path traversal), then a real day", executions=count_executions(),
                       comparisons=comparison, outcome="2 FAILED naming the key, nothing changed; then LOADED")


def test_a_stray_deeper_key_does_not_change_the_catalogue_layout(chain, day_rows):
    glue, s3 = chain.client("glue"), chain.client("s3")
    stray, day = HOSTILE_KEYS[1], "2013-07-01"
    if stray not in chain.keys(stray):  # when run on its own
        chain.follow(chain.upload(stray, to_csv(day_rows(day))))
    written = {key: s3.head_object(Bucket=chain.bucket, Key=key)["LastModified"]
               for key in (stray, chain.key(day)) if key in chain.keys(key)}
    if written.get(chain.key(day), written[stray]) <= written[stray]:  # a day whose crawl came after the stray
        chain.follow(chain.upload(chain.key(day), to_csv(day_rows(day))))
    table = glue.get_table(DatabaseName=chain.names.glue_database, Name=chain.names.catalog_table)["Table"]
    partitions = glue.get_partitions(DatabaseName=chain.names.glue_database, TableName=chain.names.catalog_table)
    assert [k["Name"] for k in table["PartitionKeys"]] == ["date"]
    assert [day] in [p["Values"] for p in partitions["Partitions"]], "the new day was not catalogued"


# ---- SQL is built with parameters only -------------------------------------------------------------------

STATEMENT = re.compile(
    r"^\s*(SELECT|WITH|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|COPY\s+\S+\s+FROM|CREATE|DROP|DESCRIBE|"
    r"LOCK|ALTER|TRUNCATE)\b", re.IGNORECASE)
SQLISH = re.compile(r"(?i)sql|statement|query")
PLACEHOLDER_BRACES = re.compile(r"\{(\w+)\}")
# Where SQL text is built from values, and why that is safe. Anything else must use :name parameters.
ALLOWED_SQL_BUILDING = {
    ("glue_job/flightpipe_job/loading.py", "fill_sql"):
        "fills the COPY placeholders of ledger_claim.sql and load_days.sql with staging paths and the role ARN, "
        "each checked against its pattern first",
    ("flightpipe/warehouse.py", "render_sql"):
        "fills the COPY placeholders of sql/*.sql (bucket, key, role ARN, region) given by the notebooks",
    ("emulator/flightpipe_local/redshift/copy.py", "copy_from_s3"):
        "the local warehouse translating one COPY into DuckDB: identifiers quoted by sqlglot, paths by sql_str",
    ("emulator/flightpipe_local/redshift/copy.py", "_csv_select"): "the same translation, for CSV sources",
    ("emulator/flightpipe_local/redshift/copy.py", "_locate_bad_csv_row"):
        "the same translation, to name a bad CSV row",
    ("emulator/flightpipe_local/redshift/translate.py", "_strip_redshift_table_attributes"):
        "the local warehouse turning an IDENTITY column into a sequence: sqlglot-rendered names and numbers",
    # {placeholder} substitutions that do not produce SQL:
    ("flightpipe/statemachine.py", "render"): "fills the ASL's ${...} settings; its Sql stays a constant (below)",
    ("emulator/flightpipe_local/events.py", "render_input_template"): "EventBridge's InputTransformer, JSON not SQL",
}


def sql_building_sites(path: Path) -> set[tuple[str, str, int]]:
    """(function, construct, line) of every place in `path` that puts values into SQL text."""
    tree = ast.parse(path.read_text())
    owner = {}
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                owner[id(node)] = func.name  # innermost function wins: ast.walk visits outer ones first
    sites = set()
    for node in ast.walk(tree):
        construct = None
        if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            construct = "f-string" if STATEMENT.search(text) else None
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
            text = next((s.value for s in (node.left, node.right)
                         if isinstance(s, ast.Constant) and isinstance(s.value, str)), "")
            construct = "% or +" if STATEMENT.search(text) else None
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if node.func.attr == "format" and isinstance(target, ast.Constant) and STATEMENT.search(str(target.value)):
                construct = ".format"
            elif node.func.attr in ("format", "format_map") and SQLISH.search(ast.unparse(target)):
                construct = ".format on a variable"  # e.g. a template read from a .sql file
            elif node.func.attr == "sub" and node.args:
                pattern = node.args[0] if isinstance(target, ast.Name) and target.id == "re" else target
                source = ast.unparse(pattern)
                if "\\{" in source or "PLACEHOLDER" in source:  # fills {name} placeholders into a text
                    construct = "{placeholder} substitution"
        if construct:
            sites.add((owner.get(id(node), "<module>"), construct, node.lineno))
    return sites


def test_sql_with_values_uses_named_parameters_except_validated_copy_placeholders():
    found = {}
    for folder in ("flightpipe", "glue_job"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for function, construct, line in sql_building_sites(path):
                found.setdefault((str(path.relative_to(ROOT)), function), []).append(f"{construct} at line {line}")
    assert ("glue_job/flightpipe_job/loading.py", "fill_sql") in found, "the scan must see the known COPY filling"
    unexpected = {site: how for site, how in found.items() if site not in ALLOWED_SQL_BUILDING}
    assert unexpected == {}, "SQL text built from values: use :name parameters"

    # In sql/, {placeholders} appear only in COPY statements; every other value is a :name parameter.
    for path in sorted((ROOT / "sql").rglob("*.sql")):
        for statement in re.split(r";\s*\n", path.read_text()):
            code = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--"))
            if PLACEHOLDER_BRACES.search(code):
                assert code.strip().upper().startswith("COPY "), f"{path.name}: placeholder outside COPY: {code}"

    # The state machine's SQL is a constant; its values travel as Data API parameters.
    definition = json.loads((ROOT / "statemachine" / "daily_ingest.asl.json").read_text())
    tasks = [s for s in walk_states(definition) if "Sql" in s.get("Parameters", {}) or
             "Sql.$" in s.get("Parameters", {})]
    assert tasks, "the ledger query must be found"
    for state in tasks:
        params = state["Parameters"]
        assert "Sql.$" not in params and "${" not in params["Sql"] and "States.Format" not in params["Sql"]
        named = set(re.findall(r"(?<!:):(\w+)", params["Sql"]))
        assert named == {p["Name"] for p in params.get("Parameters", [])}


def walk_states(definition: dict):
    for state in definition["States"].values():
        yield state
        for branch in state.get("Branches", []):
            yield from walk_states(branch)
        if "Iterator" in state or "ItemProcessor" in state:
            yield from walk_states(state.get("ItemProcessor") or state["Iterator"])


def test_the_sql_scan_catches_values_formatted_into_sql(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def load(day, sql):\n"
        "    a = f\"DELETE FROM airlines.daily_flights_fact WHERE flight_date = '{day}'\"\n"
        "    b = \"SELECT * FROM t WHERE d = '%s'\" % day\n"
        "    c = 'UPDATE t SET x = {}'.format(day)\n"
        "    d = sql.format(day=day)\n"
        "    ok = execute('SELECT * FROM t WHERE d = :day', day=day)\n"
    )
    assert {(c, line) for _, c, line in sql_building_sites(bad)} == {
        ("f-string", 2), ("% or +", 3), (".format", 4), (".format on a variable", 5)}


# ---- 7. what provisioning created ------------------------------------------------------------------------


def as_list(value):
    return value if isinstance(value, list) else [value]


def stored_document(document) -> dict:
    return json.loads(unquote(document)) if isinstance(document, str) else document


def test_every_policy_on_the_stack_names_its_resources(chain):
    iam = chain.client("iam")
    documents = {}
    for role in chain.names.roles.values():
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        assert names, f"role {role} has no inline policy"
        for name in names:
            documents[f"{role}/{name}"] = stored_document(
                iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == [], "no managed policies"
    documents["trail bucket"] = json.loads(
        chain.client("s3").get_bucket_policy(Bucket=chain.names.trail_bucket)["Policy"])
    sqs = chain.client("sqs")
    queue = sqs.get_queue_url(QueueName=chain.names.queue)["QueueUrl"]
    documents["inbox queue"] = json.loads(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])[
        "Attributes"]["Policy"])
    assert len(documents) == len(chain.names.roles) + 2
    for where, document in documents.items():
        for statement in as_list(document["Statement"]):
            resources = as_list(statement["Resource"])
            assert statement["Effect"] == "Allow" and resources, where
            if "*" in resources:
                assert resources == ["*"], f"{where}: '*' mixed with named resources"
                assert set(as_list(statement["Action"])) <= policies.WILDCARD_REQUIRED, f"{where}: {statement}"
            for arn in resources:
                assert arn == "*" or (arn.startswith("arn:aws:") and "*" not in arn.split(":")[2:5]), (where, arn)
            assert not any(a in ("*", "s3:*", "iam:*", "glue:*") for a in as_list(statement["Action"])), where


SECRET_PATTERNS = {
    "access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "secret access key": re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*\S+"),
    "password value": re.compile(r"(?i)[\"']?password[\"']?\s*[:=]\s*[\"'][^\"']+[\"']"),
    "12-digit account id": re.compile(r"(?<![\w.])\d{12}(?![\w.])"),
}


def test_no_secret_or_account_id_in_run_outputs_notebooks_or_reports(chain):
    password = json.loads(chain.client("secretsmanager").get_secret_value(
        SecretId=chain.names.redshift_secret)["SecretString"])["password"]
    executed = sorted(p for folder in chain.run_dirs for p in folder.glob("*.ipynb"))
    reports = sorted(p for folder in chain.run_dirs for p in folder.glob("*.html"))
    stored = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert len(executed) >= 9 and reports and stored  # provisioning wrote 9 notebooks and its report
    for path in executed + reports + stored:
        text = path.read_text()
        if path.suffix == ".html":  # the report's own page code (styles, scripts) is not run output
            text = re.sub(r"(?s)<(style|script)\b.*?</\1>", "", text)
        assert password not in text, f"{path.name}: the warehouse password"
        assert chain.account_id not in text, f"{path.name}: the account id"
        for what, pattern in SECRET_PATTERNS.items():
            match = pattern.search(text)
            assert not match, f"{path.name}: {what}: {match.group(0)[:60]!r}"


def test_the_bucket_blocks_public_access_is_versioned_and_encrypted(chain):
    s3 = chain.client("s3")
    block = s3.get_public_access_block(Bucket=chain.bucket)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    assert s3.get_bucket_versioning(Bucket=chain.bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=chain.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    # ... and objects written by the chain are encrypted at rest.
    raw = s3.list_objects_v2(Bucket=chain.bucket, Prefix=chain.names.raw_prefix)["Contents"][0]["Key"]
    assert s3.head_object(Bucket=chain.bucket, Key=raw).get("ServerSideEncryption") in ("AES256", "aws:kms")
    # Nothing is granted to everyone, by bucket policy or by ACL.
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=chain.bucket)["Policy"])
    except ClientError:
        policy = {"Statement": []}
    for statement in as_list(policy["Statement"]):
        assert not (statement["Effect"] == "Allow" and statement.get("Principal") in ("*", {"AWS": "*"})), statement
    grantees = [g["Grantee"].get("URI", "") for g in s3.get_bucket_acl(Bucket=chain.bucket)["Grants"]]
    assert not any(uri.endswith(("/AllUsers", "/AuthenticatedUsers")) for uri in grantees), grantees

