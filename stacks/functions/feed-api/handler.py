"""Feed API: answers GET /feed and GET /feed/{userId} behind the HTTP API (payload format 2.0)."""

import json
import os


def main(event, context):
    user = (event.get("pathParameters") or {}).get("userId")
    body = {"user": user, "items": [], "database": os.environ.get("DB_HOST", "")}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }
