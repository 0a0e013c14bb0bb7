// Stats: logs the number of notes, once an hour.
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";

const db = new DynamoDBClient({});

export const handler = async () => {
  const { Count } = await db.send(new ScanCommand({ TableName: process.env.NOTES_TABLE, Select: "COUNT" }));
  console.log(JSON.stringify({ notes: Count }));
};
