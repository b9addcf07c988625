"""moto tests that pass on plain moto and fail with the extensions because the extensions do what AWS does.

Test id (as the peer check prints it) → what AWS does, and the AWS page that says so: eleven behaviours.
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
    "the execution (one Fail state) really runs and may have ended, FAILED, before the test looks or stops it: "
    "StartExecution starts it and returns, DescribeExecution and ListExecutions then report its current status, "
    "and StopExecution cannot make a closed execution ABORTED "
    "(AWS Step Functions API reference, StartExecution, DescribeExecution: status, StopExecution)"
)
# Step Functions: the test ends the execution by assigning moto's own Execution.status, which no AWS call can do.
_MOTO_STATUS_ASSIGNED = (
    "the test marks the execution SUCCEEDED by assigning moto's internal Execution.status, which no AWS call can "
    "do; executions that run own their status. The behaviour it checks (a closed execution's name gives "
    "ExecutionAlreadyExists: AWS Step Functions API reference, StartExecution, parameter name) is checked by its "
    "twin for executions that run, parser/test_stepfunctions_idempotency.py, which passes"
)
# Glue: a job run is a real run: its state follows time, not the number of GetJobRun calls.
_JOB_RUN_STATES = (
    "right after StartJobRun a run is STARTING, and a run of a job without a script ends FAILED, never SUCCEEDED; "
    "its state changes as the run goes, not at each GetJobRun (AWS Glue developer guide, AWS Glue job run "
    "statuses; API reference, JobRun: JobRunState); moto's canned timeline advances on every call"
)
_ONE_RUN_AT_A_TIME = (
    "the job has the default MaxConcurrentRuns of 1 and its first run is still STARTING: a second StartJobRun "
    "fails with ConcurrentRunsExceededException (AWS Glue API reference, ExecutionProperty: 'The default is 1. An "
    "error is returned when this threshold is reached.')"
)
# EventBridge: CloudTrail's events carry their own detail-type; moto's S3 sends an "Object Created" event instead.
_CLOUDTRAIL_DETAIL_TYPE = (
    "the rule matches detail-type 'AWS API Call via CloudTrail', which only CloudTrail's events carry (Amazon "
    "EventBridge User Guide, Events from AWS services: 'All events that are delivered by CloudTrail have AWS API "
    "Call via CloudTrail as the value for detail-type'), and a pattern matches only events with every field it "
    "lists (User Guide, Creating event patterns); no trail records the CreateBucket, and moto's S3 puts an "
    "'Object Created' event on the bus, which such a rule does not match"
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
            "test_state_machine_list_executions_with_filter",
            "test_state_machine_stop_execution",
        ]
    },
    "test_stepfunctions.test_stepfunctions_idempotency.test_create_state_machine_twice_after_success": (
        _MOTO_STATUS_ASSIGNED
    ),
    "test_glue.test_glue_job_runs.test_get_job_run": _JOB_RUN_STATES,
    "test_glue.test_glue_job_runs.test_job_run_transition": _JOB_RUN_STATES,
    "test_glue.test_glue_job_runs.test_get_job_runs_pagination": _ONE_RUN_AT_A_TIME,
    "test_glue.test_glue_job_runs.test_job_run_id_passed_in_goes_to_previous_run_id_field": _ONE_RUN_AT_A_TIME,
    **{
        f"test_events.test_events_sfn_integration.test_create_bucket_invokes_stepfunction[{mode}]": (
            _CLOUDTRAIL_DETAIL_TYPE
        )
        for mode in ("Mocked", "Parsed")
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
