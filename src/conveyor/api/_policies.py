"""The access policy of every route of the control plane (the default is deny).

Each route is listed here by its path with what a token needs to call it; the
:class:`~conveyor.serving.AccessGuard` in front of the application refuses any route that
is not (403) before a handler runs. Records methods that change an environment are also
checked inside the handler against the environment they name (protected environments
need a deployer's token): see :mod:`conveyor.api._guards`. A test walks the route table
and fails on any route missing here.
"""

from __future__ import annotations

from collections.abc import Mapping

from conveyor.api._artifacts import ARTIFACT_POLICIES
from conveyor.api._resources import RESOURCE_POLICIES
from conveyor.security import Permission
from conveyor.serving import Policy

#: Route path -> what it needs: ``"health"`` is open, ``"token"`` any valid token, a
#: permission a token holding it.
SERVER_POLICIES: Mapping[str, Policy] = {
    "/api/v1/health": "health",
    "/api/v1/whoami": "token",
    "/openapi.json": "token",
    "/docs": "token",
    "/docs/oauth2-redirect": "token",
    "/redoc": "token",
}

#: Records, one route per method of each records interface.
RECORDS_POLICIES: Mapping[str, Policy] = {
    "/api/v1/records/audit/audit_log": Permission.READ,
    "/api/v1/records/audit/record_event": Permission.WRITE,
    "/api/v1/records/audit/verify_audit": Permission.READ,
    "/api/v1/records/automation/arm_trigger": Permission.WRITE,
    "/api/v1/records/automation/events": Permission.READ,
    "/api/v1/records/automation/finish_job": Permission.WRITE,
    "/api/v1/records/automation/fire_trigger": Permission.WRITE,
    "/api/v1/records/automation/firing_events": Permission.READ,
    "/api/v1/records/automation/lease": Permission.READ,
    "/api/v1/records/automation/record_events": Permission.WRITE,
    "/api/v1/records/automation/renew_lease": Permission.WRITE,
    "/api/v1/records/automation/start_attempt": Permission.WRITE,
    "/api/v1/records/automation/take_lease": Permission.WRITE,
    "/api/v1/records/automation/trigger_states": Permission.READ,
    "/api/v1/records/check/add_schema": Permission.WRITE,
    "/api/v1/records/check/has_decisions": Permission.READ,
    "/api/v1/records/check/has_schemas": Permission.READ,
    "/api/v1/records/check/latest_results": Permission.READ,
    "/api/v1/records/check/latest_schema": Permission.READ,
    "/api/v1/records/check/list_decisions": Permission.READ,
    "/api/v1/records/check/list_results": Permission.READ,
    "/api/v1/records/check/list_schemas": Permission.READ,
    "/api/v1/records/check/record_decision": Permission.WRITE,
    "/api/v1/records/check/record_suite": Permission.WRITE,
    "/api/v1/records/dataset/add_version": Permission.WRITE,
    "/api/v1/records/dataset/find_version": Permission.READ,
    "/api/v1/records/dataset/import_versions": Permission.WRITE,
    "/api/v1/records/dataset/summaries": Permission.READ,
    "/api/v1/records/dataset/versions": Permission.READ,
    "/api/v1/records/deployment/at_revision": Permission.READ,
    "/api/v1/records/deployment/current": Permission.READ,
    "/api/v1/records/deployment/environments": Permission.READ,
    "/api/v1/records/deployment/history": Permission.READ,
    "/api/v1/records/deployment/history_page": Permission.READ,
    "/api/v1/records/deployment/record_transition": Permission.DEPLOY,
    "/api/v1/records/model/add_signature": Permission.WRITE,
    "/api/v1/records/model/archive": Permission.WRITE,
    "/api/v1/records/model/find_keyed": Permission.READ,
    "/api/v1/records/model/get_version": Permission.READ,
    "/api/v1/records/model/history": Permission.READ,
    "/api/v1/records/model/insert_version": Permission.WRITE,
    "/api/v1/records/model/list_models": Permission.READ,
    "/api/v1/records/model/list_versions": Permission.READ,
    "/api/v1/records/model/record_decision": Permission.WRITE,
    "/api/v1/records/model/remove_alias": Permission.WRITE,
    "/api/v1/records/model/set_aliases": Permission.WRITE,
    "/api/v1/records/model/signatures": Permission.READ,
    "/api/v1/records/monitoring/add_report": Permission.WRITE,
    "/api/v1/records/monitoring/first_report": Permission.READ,
    "/api/v1/records/monitoring/open_alert": Permission.READ,
    "/api/v1/records/monitoring/open_alerts": Permission.READ,
    "/api/v1/records/monitoring/report": Permission.READ,
    "/api/v1/records/monitoring/report_summaries": Permission.READ,
    "/api/v1/records/monitoring/reports": Permission.READ,
    "/api/v1/records/monitoring/update_incident": Permission.WRITE,
    "/api/v1/records/prediction/add_partitions": Permission.WRITE,
    "/api/v1/records/prediction/labels": Permission.READ,
    "/api/v1/records/prediction/partitions": Permission.READ,
    "/api/v1/records/prediction/record_feedback": Permission.WRITE,
    "/api/v1/records/prediction/record_usage": Permission.WRITE,
    "/api/v1/records/prediction/replace_partitions": Permission.WRITE,
    "/api/v1/records/prediction/usage": Permission.READ,
    "/api/v1/records/run/add_artifact": Permission.WRITE,
    "/api/v1/records/run/add_dataset": Permission.WRITE,
    "/api/v1/records/run/add_outputs": Permission.WRITE,
    "/api/v1/records/run/artifacts": Permission.READ,
    "/api/v1/records/run/create_run": Permission.WRITE,
    "/api/v1/records/run/dataset_runs": Permission.READ,
    "/api/v1/records/run/datasets": Permission.READ,
    "/api/v1/records/run/finish_run": Permission.WRITE,
    "/api/v1/records/run/get_run": Permission.READ,
    "/api/v1/records/run/heartbeat": Permission.WRITE,
    "/api/v1/records/run/latest_metrics": Permission.READ,
    "/api/v1/records/run/list_runs": Permission.READ,
    "/api/v1/records/run/log_metrics": Permission.WRITE,
    "/api/v1/records/run/merge_params": Permission.WRITE,
    "/api/v1/records/run/metrics": Permission.READ,
    "/api/v1/records/run/outputs": Permission.READ,
    "/api/v1/records/run/reap_stale": Permission.WRITE,
    "/api/v1/records/run/resume_run": Permission.WRITE,
    "/api/v1/records/run/runs_with_prefix": Permission.READ,
    "/api/v1/records/run/search_runs": Permission.READ,
    "/api/v1/records/token/add": Permission.MANAGE_TOKENS,
    "/api/v1/records/token/find": Permission.MANAGE_TOKENS,
    "/api/v1/records/token/get": Permission.MANAGE_TOKENS,
    "/api/v1/records/token/list": Permission.MANAGE_TOKENS,
    "/api/v1/records/token/record": Permission.MANAGE_TOKENS,
    "/api/v1/records/token/revoke": Permission.MANAGE_TOKENS,
    "/api/v1/records/token/touch": Permission.MANAGE_TOKENS,
}

#: Every route of the control plane.
API_POLICIES: Mapping[str, Policy] = {
    **SERVER_POLICIES,
    **RECORDS_POLICIES,
    **ARTIFACT_POLICIES,
    **RESOURCE_POLICIES,
}
