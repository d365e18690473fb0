"""Tunnel providers: how a public HTTPS URL comes to reach the receiver's local port.

Each provider starts (giving the public URL), says whether it is alive, and stops; one module each:
``ngrok`` runs the agent through pyngrok (``ngrok_sdk``: the agent SDK, in this process); ``cloudflared`` runs a Cloudflare quick tunnel (no account, a
new URL each start); ``static`` is ``--tunnel none``, a URL you serve yourself (a reverse proxy with a
certificate). Known failures become a ``TunnelError`` whose message says what to do; ``permanent`` ones
(a missing authtoken, no agent program) are not worth retrying.
"""
from __future__ import annotations

from ..errors import TunnelError
from .base import WEBSOCKET_HINT, Tunnel
from .cloudflared import CloudflaredTunnel, explain_cloudflared_failure, first_meaningful_line, quick_tunnel_url
from .ngrok import NGROK_SERVICE, NgrokTunnel, agent_api_problem, explain_ngrok_failure, ngrok_mode
from .static import StaticUrl

__all__ = ["NGROK_SERVICE", "WEBSOCKET_HINT", "CloudflaredTunnel", "NgrokTunnel", "StaticUrl", "Tunnel",
           "TunnelError", "agent_api_problem", "explain_cloudflared_failure", "explain_ngrok_failure",
           "first_meaningful_line", "ngrok_mode", "quick_tunnel_url"]
