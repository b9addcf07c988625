"""moto tests that pass on plain moto and fail with the extensions because the extensions do what AWS does.

Test id (as the peer check prints it) → what AWS does, and the AWS page that says so: six behaviours.
"""

from __future__ import annotations

# Glue: moto's crawl is over the moment it starts; a real crawl runs, and a running crawler cannot be started.
_CRAWLER_RUNNING = (
    "a second StartCrawler while the first crawl runs fails with CrawlerRunningException "
    "(AWS Glue API reference, StartCrawler: 'If the crawler is already running, returns a CrawlerRunningException')"
)
# Redshift Data API: statements run on a cluster (or workgroup), which must exist.
_CLUSTER_MUST_EXIST = (
    "a statement runs on the named cluster, which must exist: ValidationException otherwise "
    "(Amazon Redshift Data API reference, ExecuteStatement: ClusterIdentifier names the cluster connected to)"
)
# Step Functions: executions run, so the history is what the execution did, and a closed execution's name is taken.
_REAL_HISTORY = (
    "the history lists the events of the states the execution really passed through, at the times they happened "
    "(AWS Step Functions API reference, GetExecutionHistory and HistoryEvent); moto's is a canned list"
)

# Step Functions: a one-state execution really runs and ends within milliseconds; moto's stays RUNNING for ever.
_ALREADY_ENDED = (
    "the execution (one Fail state) really runs and may have ended, FAILED, before the test looks: StartExecution "
    "starts it and returns, DescribeExecution and ListExecutions then report its current status "
    "(AWS Step Functions API reference, StartExecution, DescribeExecution: status)"
)

AS_ON_AWS: dict[str, str] = {
    **{
        f"test_glue.test_datacatalog.{name}": _CRAWLER_RUNNING
        for name in [
            "test_filter_crawls_for_crawl_id",
            "test_filter_crawls_for_not_crawl_id",
            *(f"test_filter_crawls_for_end_time[{op}]" for op in ("GE", "GT", "LE", "LT")),
            *(f"test_filter_crawls_for_start_time[{op}]" for op in ("GE", "GT", "LE", "LT")),
            *(f"test_filter_crawls_for_state[{op}]" for op in ("EQ", "NE")),
            *(f"test_multiple_filters[{op}]" for op in ("GE", "GT", "LE", "LT")),
        ]
    },
    **{
        f"test_redshiftdata.{name}": _CLUSTER_MUST_EXIST
        for name in [
            "test_redshiftdata.test_execute_statement_and_cancel_statement",
            "test_redshiftdata.test_execute_statement_and_describe_statement",
            "test_redshiftdata.test_execute_statement_and_get_statement_result",
            "test_server.test_redshiftdata_execute_statement_and_cancel_statement",
            "test_server.test_redshiftdata_execute_statement_and_describe_statement",
            "test_server.test_redshiftdata_execute_statement_and_get_statement_result",
            "test_server.test_redshiftdata_execute_statement_with_all_values",
            "test_server.test_redshiftdata_execute_statement_with_minimal_values",
        ]
    },
    "test_stepfunctions.test_stepfunctions.test_state_machine_get_execution_history_contains_expected_success_events_when_started": _REAL_HISTORY,  # noqa: E501
    "test_stepfunctions.test_stepfunctions.test_state_machine_get_execution_history_contains_expected_failure_events_when_started": _REAL_HISTORY,  # noqa: E501
    "test_stepfunctions.test_stepfunctions.test_state_machine_start_execution_is_idempotent_by_name_and_input": (
        "the first execution has already ended, and a closed execution's name gives ExecutionAlreadyExists whatever "
        "the input (AWS Step Functions API reference, StartExecution, parameter name)"
    ),
    **{
        f"test_stepfunctions.test_stepfunctions.{name}": _ALREADY_ENDED
        for name in [
            "test_state_machine_describe_execution_with_no_input",
            "test_state_machine_describe_execution_with_custom_input",
            "test_state_machine_list_executions",
        ]
    },
    "test_events.test_event_pattern.test_or_matching_top_level": (
        "a pattern matches the event's JSON structure: a top-level key \"detail.state\" is not the field state of "
        "detail (Amazon EventBridge API reference, TestEventPattern: the event is a JSON document; User Guide, "
        "Creating event patterns: a pattern has the same structure as the events it matches); moto also matches "
        "flattened dotted keys"
    ),
    "test_events.test_events_integration.test_send_to_cw_log_group": (
        "a log event's timestamp is an integer count of milliseconds "
        "(Amazon CloudWatch Logs API reference, OutputLogEvent: timestamp, Type: Long); moto stores a float"
    ),
}
