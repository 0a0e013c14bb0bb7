// Notes API behind the HTTP API (payload format 2.0): GET /notes, GET /notes/{id}, POST /notes.
import { DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { randomUUID } from "node:crypto";

const db = new DynamoDBClient({});
const table = process.env.NOTES_TABLE;
const reply = (statusCode, body) => ({ statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

export const handler = async (event) => {
  if (event.routeKey === "POST /notes") {
    const note = { id: randomUUID(), text: JSON.parse(event.body ?? "{}").text ?? "" };
    await db.send(new PutItemCommand({ TableName: table, Item: { id: { S: note.id }, text: { S: note.text } } }));
    return reply(201, note);
  }
  if (event.routeKey === "GET /notes/{id}") {
    const { Item } = await db.send(new GetItemCommand({ TableName: table, Key: { id: { S: event.pathParameters.id } } }));
    return Item ? reply(200, { id: Item.id.S, text: Item.text?.S }) : reply(404, { message: "no such note" });
  }
  const { Items = [] } = await db.send(new ScanCommand({ TableName: table, Limit: 100 }));
  return reply(200, Items.map((item) => ({ id: item.id.S, text: item.text?.S })));
};
