"""Upload processor: for each upload the inbox bucket announced on the photoUploaded queue, copies
the object into the photo store and announces it on the photoProcessed topic. Failed messages are
reported one by one (partial batch response), so only they return to the queue."""

import json
import os
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")
sns = boto3.client("sns")


def main(event, context):
    failures = []
    for record in event["Records"]:
        try:
            for upload in json.loads(record["body"]).get("Records", []):
                source = upload["s3"]["bucket"]["name"]
                key = unquote_plus(upload["s3"]["object"]["key"])
                s3.copy_object(
                    Bucket=os.environ["PHOTOS_BUCKET"],
                    Key=key,
                    CopySource={"Bucket": source, "Key": key},
                )
                sns.publish(
                    TopicArn=os.environ["PHOTO_PROCESSED_TOPIC"],
                    Message=json.dumps({"key": key}),
                )
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
