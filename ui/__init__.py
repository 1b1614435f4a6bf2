"""Tollgate's web UI (Gradio): sign in with an API key, chat, inspect the model, see my usage.

It talks only to the gateway, through `ui.client.GatewayClient`. `ui.app.create_app(settings)`
builds the ASGI app that `tollgate ui` serves.
"""
