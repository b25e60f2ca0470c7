"""The gateway plane: OpenAI-compatible routes in front of every configured model."""
