"""Domain errors, named as Neutron names them so API clients see familiar types.

Each class belongs to one category (BadRequest, NotFound, ...); the API layer maps the
category to an HTTP status and the class name to NeutronError.type.
"""
from __future__ import annotations

from typing import Any


class NetqosError(Exception):
    """Base of every error a client can cause. `message` is what the client reads."""

    message = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: Any):
        self.kwargs = kwargs
        super().__init__(message if message is not None else self.message % kwargs)

    @property
    def type(self) -> str:
        return type(self).__name__


class BadRequest(NetqosError):
    message = "Bad %(resource)s request: %(msg)s."


class HTTPBadRequest(BadRequest):
    """A malformed request, as Neutron's API layer words it (webob's HTTPBadRequest)."""

    message = "%(msg)s"


class InvalidInput(BadRequest):
    """A value that cannot be converted to the attribute's type (Neutron's convert_to_*)."""

    message = "Invalid input for operation: %(error_message)s."


class MalformedRequestBody(BadRequest):
    message = "Malformed request body: %(reason)s."


class NotAuthenticated(NetqosError):
    message = "Authentication required."

    def __init__(self, message: str | None = None, headers: dict[str, str] | None = None,
                 **kwargs: Any):
        super().__init__(message, **kwargs)
        self.headers = headers or {}


class NotAuthorized(NetqosError):
    message = "Not authorized."


class NotFound(NetqosError):
    message = "%(resource)s %(id)s could not be found."


class HTTPNotFound(NotFound):
    """What Neutron answers when a visible object may not be changed by the caller."""

    message = "The resource could not be found."


class Conflict(NetqosError):
    message = "Conflict."


class InUse(Conflict):
    message = "The resource is in use."


class ServiceUnavailable(NetqosError):
    """A resource pool is exhausted (Neutron answers 503), or a service netqos depends on
    (Keystone) does not answer."""

    message = "The service is unavailable."


class PreconditionFailed(NetqosError):
    message = "Precondition failed: %(msg)s"


class RevisionNumberConstraintFailed(PreconditionFailed):
    message = "Constrained to %(expected)s, but current revision is %(current)s"


# --- QoS, as neutron-lib words them -------------------------------------------------------

class QosPolicyNotFound(NotFound):
    message = "QoS policy %(policy_id)s could not be found."


class QosRuleNotFound(NotFound):
    message = "QoS rule %(rule_id)s for policy %(policy_id)s could not be found."


class QoSPolicyDefaultAlreadyExists(Conflict):
    message = "A default QoS policy exists for project %(project_id)s."


class QosPolicyInUse(InUse):
    message = "QoS Policy %(policy_id)s is used by %(object_type)s %(object_id)s."


class QosRuleNotSupported(Conflict):
    message = "Rule %(rule_type)s is not supported by port %(port_id)s"


class QoSRuleParameterConflict(Conflict):
    message = ("Unable to add the rule with value %(rule_value)s to the policy %(policy_id)s "
               "as the existing rule of type %(existing_rule)s has value %(existing_value)s.")


class QoSRulesConflict(Conflict):
    message = ("Rule %(new_rule_type)s conflicts with rule %(rule_id)s which already exists "
               "in QoS Policy %(policy_id)s.")


class RuleTypeNotFound(NotFound):
    message = "QoS rule type %(rule_type)s could not be found."


class PolicyRemoveAuthorizationError(NotAuthorized):
    message = "Failed to remove provided policy %(policy_id)s because you are not authorized."


class PolicyNotAuthorized(NotAuthorized):
    """A refusal by policy rules, worded as oslo.policy words it for Neutron: `rule` is
    the check that failed, e.g. "(rule:create_port and rule:create_port:binding:host_id)"."""

    message = "%(rule)s is disallowed by policy"
