"""The railway platform: deployments and actions through Railway's GraphQL API v2.

Facts (shared/reference/integrations.md §7, railwayapp/cli's GraphQL documents):
- roll back only to a deployment with ``canRollback``;
- ``variableUpsert`` redeploys unless ``skipDeploys: true``, so each variable is written with
  ``skipDeploys: true`` and one ``serviceInstanceRedeploy`` applies them all;
- ``deploymentRedeploy`` returns the new deployment; rollback and restart return booleans.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from so1.adapters.platform.railway_client import RailwayClient
from so1.domain.platform import LogLine, PlatformDeployment
from so1.errors import NotFound, Rejected

NODE = "id createdAt status canRollback canRedeploy meta"
DEPLOYMENTS = (
    "query Deployments($input: DeploymentListInput!, $first: Int) {"
    f" deployments(input: $input, first: $first) {{ edges {{ node {{ {NODE} }} }} }} }}"
)
DEPLOYMENT = f"query Deployment($id: String!) {{ deployment(id: $id) {{ {NODE} serviceId }} }}"
ROLLBACK = "mutation DeploymentRollback($id: String!) { deploymentRollback(id: $id) }"
REDEPLOY = (
    "mutation DeploymentRedeploy($id: String!, $usePreviousImageTag: Boolean) {"
    " deploymentRedeploy(id: $id, usePreviousImageTag: $usePreviousImageTag) { id status } }"
)
RESTART = "mutation DeploymentRestart($id: String!) { deploymentRestart(id: $id) }"
UPSERT = "mutation VariableUpsert($input: VariableUpsertInput!) { variableUpsert(input: $input) }"
INSTANCE_REDEPLOY = (
    "mutation ServiceInstanceRedeploy($environmentId: String!, $serviceId: String!) {"
    " serviceInstanceRedeploy(environmentId: $environmentId, serviceId: $serviceId) }"
)
SCALE = (
    "mutation ServiceInstanceUpdate($environmentId: String, $serviceId: String!,"
    " $input: ServiceInstanceUpdateInput!) { serviceInstanceUpdate(environmentId:"
    " $environmentId, serviceId: $serviceId, input: $input) }"
)
VARIABLES = (
    "query Variables($projectId: String!, $environmentId: String!, $serviceId: String) {"
    " variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId) }"
)
LOGS = (
    "query DeploymentLogs($deploymentId: String!, $limit: Int) {"
    " deploymentLogs(deploymentId: $deploymentId, limit: $limit) { timestamp message severity } }"
)


class RailwayPlatform:
    name = "railway"

    def __init__(
        self,
        client: RailwayClient,
        project_id: str,
        environment_id: str,
        services: Mapping[str, str],
    ) -> None:
        """``services``: SO1 service name → Railway service id."""
        self._client, self._project, self._environment = client, project_id, environment_id
        self._services = dict(services)

    def _service_id(self, service: str) -> str:
        found = self._services.get(service)
        if found is None:
            raise NotFound(f"service '{service}' has no Railway service id (SO1_RAILWAY_SERVICES)")
        return found

    def deployments(self, service: str, limit: int = 10) -> list[PlatformDeployment]:
        scope = {
            "projectId": self._project,
            "environmentId": self._environment,
            "serviceId": self._service_id(service),
        }
        data = self._client.call(DEPLOYMENTS, {"input": scope, "first": limit})
        edges = data["deployments"]["edges"]
        found = [_deployment(service, edge["node"]) for edge in edges]
        return sorted(found, key=lambda d: d.created_at, reverse=True)

    def deployment(self, service: str, deployment_id: str) -> PlatformDeployment:
        node = self._client.call(DEPLOYMENT, {"id": deployment_id}).get("deployment")
        if not node or node.get("serviceId") not in (None, self._service_id(service)):
            raise NotFound(f"deployment '{deployment_id}' of {service} does not exist on Railway")
        return _deployment(service, node)

    def rollback(self, service: str, deployment_id: str) -> str:
        target = self.deployment(service, deployment_id)
        if not target.can_rollback:
            raise Rejected(f"Railway cannot roll back to {deployment_id} (canRollback is false)")
        if not self._client.call(ROLLBACK, {"id": deployment_id})["deploymentRollback"]:
            raise Rejected(f"Railway did not roll back to {deployment_id}")
        return self.deployments(service, 1)[0].id

    def redeploy(self, service: str, deployment_id: str) -> str:
        if not self.deployment(service, deployment_id).can_redeploy:
            raise Rejected(f"Railway cannot redeploy {deployment_id} (canRedeploy is false)")
        variables = {"id": deployment_id, "usePreviousImageTag": True}
        new: str = self._client.call(REDEPLOY, variables)["deploymentRedeploy"]["id"]
        return new

    def restart(self, service: str, deployment_id: str) -> None:
        self.deployment(service, deployment_id)  # it must be this service's
        if not self._client.call(RESTART, {"id": deployment_id})["deploymentRestart"]:
            raise Rejected(f"Railway did not restart {deployment_id}")

    def variables(self, service: str) -> dict[str, str]:
        scope = {
            "projectId": self._project,
            "environmentId": self._environment,
            "serviceId": self._service_id(service),
        }
        found = self._client.call(VARIABLES, scope)["variables"] or {}
        return {str(k): str(v) for k, v in found.items()}

    def set_variables(self, service: str, variables: Mapping[str, str], apply: bool) -> str | None:
        service_id = self._service_id(service)
        for name, value in variables.items():
            upsert = {
                "projectId": self._project,
                "environmentId": self._environment,
                "serviceId": service_id,
                "name": name,
                "value": value,
                "skipDeploys": True,
            }
            self._client.call(UPSERT, {"input": upsert})
        if not apply:
            return None
        scope = {"environmentId": self._environment, "serviceId": service_id}
        if not self._client.call(INSTANCE_REDEPLOY, scope)["serviceInstanceRedeploy"]:
            raise Rejected(f"Railway did not redeploy {service} with the new variables")
        return self.deployments(service, 1)[0].id

    def scale(self, service: str, replicas: int) -> None:
        variables = {
            "environmentId": self._environment,
            "serviceId": self._service_id(service),
            "input": {"numReplicas": replicas},
        }
        if not self._client.call(SCALE, variables)["serviceInstanceUpdate"]:
            raise Rejected(f"Railway did not scale {service} to {replicas} replicas")

    def logs(self, service: str, deployment_id: str, limit: int = 100) -> list[LogLine]:
        self.deployment(service, deployment_id)
        data = self._client.call(LOGS, {"deploymentId": deployment_id, "limit": limit})
        lines = [
            LogLine(_when(row["timestamp"]), str(row["message"]), row.get("severity"))
            for row in data["deploymentLogs"]
        ]
        return sorted(lines, key=lambda line: line.at)[-limit:]


def _deployment(service: str, node: Mapping[str, Any]) -> PlatformDeployment:
    meta = node.get("meta") or {}
    version = meta.get("commitHash") or meta.get("image") or meta.get("imageDigest")
    return PlatformDeployment(
        id=str(node["id"]),
        service=service,
        status=str(node["status"]),
        created_at=_when(node["createdAt"]),
        version=str(version) if version else None,
        can_rollback=bool(node.get("canRollback")),
        can_redeploy=bool(node.get("canRedeploy")),
        meta=dict(meta),
    )


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
