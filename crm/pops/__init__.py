"""Screen pops: the per-agent hub and the ``/ws/agent`` WebSocket.

The hub takes plain dict messages (``pop``, ``call_state``, ``agent_state``) from whoever
builds them (the dialer bridge in the composition root) and fans them out to the agent's
sockets, each through its own bounded queue and writer task. It keeps the last pop and the
last agent state per agent, so a (re)connecting page gets the current state at once.
"""

from crm.pops.hub import Connection, PopHub
from crm.pops.ws import POP_HUB, agent_socket, install_pops

__all__ = ["POP_HUB", "Connection", "PopHub", "agent_socket", "install_pops"]
