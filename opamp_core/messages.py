"""Stand-alone ServerToAgent messages and the capability bits of both sides.

Plain Python (generated protobuf + stdlib). opamp_core.protocol builds the replies to status
reports; this module holds what a transport or a page needs besides: the server's
capabilities, capability names, error replies (BAD_REQUEST, UNAVAILABLE) and the Restart
command.
"""

from opamp_core.proto import opamp_pb2

Caps = opamp_pb2.AgentCapabilities
ServerCaps = opamp_pb2.ServerCapabilities

# What this server does; sent in every reply except error replies (see error_reply()).
SERVER_CAPABILITIES = (
    ServerCaps.ServerCapabilities_AcceptsStatus
    | ServerCaps.ServerCapabilities_OffersRemoteConfig
    | ServerCaps.ServerCapabilities_AcceptsEffectiveConfig
    | ServerCaps.ServerCapabilities_OffersConnectionSettings
)


ACCEPTS_RESTART = Caps.AgentCapabilities_AcceptsRestartCommand


def _bit_names(enum, prefix: str) -> dict[int, str]:
    return {value.number: value.name.removeprefix(prefix) for value in enum.DESCRIPTOR.values if value.number}


# {bit: "AcceptsRemoteConfig", ...} in bit order, for pages that list each named capability.
AGENT_CAPABILITY_NAMES = _bit_names(opamp_pb2.AgentCapabilities, "AgentCapabilities_")
SERVER_CAPABILITY_NAMES = _bit_names(opamp_pb2.ServerCapabilities, "ServerCapabilities_")


def capability_table(mask: int, names: dict[int, str] = AGENT_CAPABILITY_NAMES) -> list[tuple[str, bool]]:
    """Every named bit of `names` with whether `mask` has it, in bit order."""
    return [(name, bool(mask & bit)) for bit, name in names.items()]


def capability_names(mask: int, names: dict[int, str] = AGENT_CAPABILITY_NAMES) -> list[str]:
    """The names of the bits set in `mask` (unknown bits are left out)."""
    return [name for name, present in capability_table(mask, names) if present]


def can_restart(capabilities: int) -> bool:
    """Whether an agent with these capabilities obeys a Restart command."""
    return bool(capabilities & ACCEPTS_RESTART)


def base_reply(instance_uid: bytes) -> opamp_pb2.ServerToAgent:
    """The minimal reply: the agent's uid echoed and our capabilities (an acknowledgement)."""
    return opamp_pb2.ServerToAgent(instance_uid=instance_uid, capabilities=SERVER_CAPABILITIES)


def error_reply(instance_uid: bytes, error_type: int, message: str, retry_after_seconds: float | None = None):
    """A ServerToAgent carrying only instance_uid and a ServerErrorResponse.

    The spec requires every field after error_response to stay unset, capabilities included.
    """
    reply = opamp_pb2.ServerToAgent(instance_uid=instance_uid)
    reply.error_response.SetInParent()
    reply.error_response.type = error_type
    reply.error_response.error_message = message
    if retry_after_seconds is not None:
        reply.error_response.retry_info.retry_after_nanoseconds = int(retry_after_seconds * 1_000_000_000)
    return reply


def bad_request(instance_uid: bytes, message: str) -> opamp_pb2.ServerToAgent:
    """BAD_REQUEST: the AgentToServer was malformed; the agent must not resend it."""
    return error_reply(instance_uid, opamp_pb2.ServerErrorResponseType_BadRequest, message)


def unavailable(instance_uid: bytes, retry_after_seconds: float | None = None, message: str = "Server busy"):
    """UNAVAILABLE: overloaded; the agent reconnects after retry_after_seconds (or backs off)."""
    return error_reply(instance_uid, opamp_pb2.ServerErrorResponseType_Unavailable, message, retry_after_seconds)


def restart_command(instance_uid: bytes) -> opamp_pb2.ServerToAgent:
    """A Restart command. The spec allows only instance_uid and capabilities beside it.

    Send it only to agents for which can_restart() is true; others ignore it.
    """
    reply = base_reply(instance_uid)
    reply.command.SetInParent()  # Restart is enum value 0: setting it alone would not mark presence
    reply.command.type = opamp_pb2.CommandType_Restart
    return reply
