// Drives laneway serve with the official `openai` npm client and prints what
// it got as one JSON object (openai_client_test.cpp checks it).
//   node openai_client.mjs <base_url> <lane> <prompt>
import OpenAI from "openai";

const [baseUrl, lane, prompt] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "sk-e2e", maxRetries: 0 });
const laneClient = new OpenAI({ baseURL: `${baseUrl}/lanes/${lane}/v1`, apiKey: "sk-e2e", maxRetries: 0 });
const messages = [{ role: "user", content: prompt }];
const out = {};

const chat = await client.chat.completions.create({ model: lane, messages, max_tokens: 24, temperature: 0 });
out.chat = chat.choices[0].message.content;
out.chat_finish = chat.choices[0].finish_reason;
out.chat_usage = chat.usage;

let streamed = "";
let usage = null;
const chatStream = await client.chat.completions.create({
  model: lane, messages, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of chatStream) {
  if (chunk.choices.length > 0) streamed += chunk.choices[0].delta?.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
out.chat_stream = streamed;
out.chat_stream_usage = usage;

const cmpl = await client.completions.create({ model: lane, prompt, max_tokens: 24, temperature: 0 });
out.completion = cmpl.choices[0].text;
out.completion_finish = cmpl.choices[0].finish_reason;

streamed = "";
const cmplStream = await client.completions.create({ model: lane, prompt, max_tokens: 24, temperature: 0, stream: true });
for await (const chunk of cmplStream) streamed += chunk.choices[0]?.text ?? "";
out.completion_stream = streamed;

// One base URL per lane: the `model` field may be anything there.
const viaLane = await laneClient.chat.completions.create({ model: "whatever", messages, max_tokens: 24, temperature: 0 });
out.lane_chat = viaLane.choices[0].message.content;
out.lane_models = (await laneClient.models.list()).data.map((m) => m.id);
out.models = (await client.models.list()).data.map((m) => m.id);

// Errors come back as the client's typed errors.
try {
  await client.chat.completions.create({ model: "no-such-model", messages });
  out.not_found = "no error";
} catch (e) {
  out.not_found = { status: e.status, code: e.code, type: e.type };
}
console.log(JSON.stringify(out));
