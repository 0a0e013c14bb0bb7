"""Feed API: answers GET /feed and GET /feed/{userId} behind the HTTP API (payload format 2.0).

It reads from a replica (DB_READER_ENDPOINTS, DB_PORT); a real query would first fetch the
credentials from Secrets Manager with the secret named by DB_SECRET_ARN.
"""

import json
import os


def main(event, context):
    user = (event.get("pathParameters") or {}).get("userId")
    readers = [host for host in os.environ.get("DB_READER_ENDPOINTS", "").split(",") if host]
    database = f"{readers[0]}:{os.environ.get('DB_PORT', '')}" if readers else ""
    body = {"user": user, "items": [], "database": database}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }
