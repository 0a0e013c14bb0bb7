// Importer: each JSON file created in the imports bucket holds a list of {"text": ...} notes.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";

const db = new DynamoDBClient({});
const s3 = new S3Client({});

export const handler = async (event) => {
  for (const record of event.Records) {
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, " "));
    const object = await s3.send(new GetObjectCommand({ Bucket: record.s3.bucket.name, Key: key }));
    for (const note of JSON.parse(await object.Body.transformToString())) {
      await db.send(new PutItemCommand({
        TableName: process.env.NOTES_TABLE,
        Item: { id: { S: randomUUID() }, text: { S: String(note.text ?? "") } },
      }));
    }
  }
};
