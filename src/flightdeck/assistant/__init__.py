"""The browser assistant: extract pages, pick passages, prompt the gateway, check citations."""
