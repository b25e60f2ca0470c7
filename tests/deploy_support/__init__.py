"""Test support for the deployment tests: nginx as shipped, TLS, replicas as processes."""
