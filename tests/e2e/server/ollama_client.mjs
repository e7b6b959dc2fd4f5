// Drives laneway serve with the official `ollama` npm client and prints what
// it got as one JSON object (ollama_client_test.cpp checks it).
//   node ollama_client.mjs <base_url> <model> <prompt>
import { Ollama } from "ollama";

const [host, model, prompt] = process.argv.slice(2);
const ollama = new Ollama({ host, headers: { Authorization: "Bearer sk-e2e" } });
const options = { temperature: 0, num_predict: 24 };
const out = {};

const list = await ollama.list();
out.list = list.models.map((m) => ({ name: m.name, model: m.model, size: m.size, digest: m.digest, details: m.details,
                                     modified_at: String(m.modified_at) }));
const show = await ollama.show({ model });
out.show = { details: show.details, model_info: show.model_info, capabilities: show.capabilities,
             has_modelfile: typeof show.modelfile === "string" && show.modelfile.length > 0 };
const ps = await ollama.ps();
out.ps = ps.models.map((m) => ({ name: m.name, size: m.size, size_vram: m.size_vram, digest: m.digest,
                                 expires_at: String(m.expires_at) }));

const gen = await ollama.generate({ model, prompt, stream: false, options });
out.generate = gen.response;
out.generate_final = { done: gen.done, done_reason: gen.done_reason, eval_count: gen.eval_count,
                       prompt_eval_count: gen.prompt_eval_count, total_duration: gen.total_duration,
                       eval_duration: gen.eval_duration, context_length: (gen.context ?? []).length };
let streamed = "";
let chunks = 0;
let last = null;
for await (const part of await ollama.generate({ model, prompt, stream: true, options })) {
  streamed += part.response;
  chunks += 1;
  last = part;
}
out.generate_stream = streamed;
out.generate_stream_chunks = chunks;
out.generate_stream_last = { done: last.done, done_reason: last.done_reason, eval_count: last.eval_count };

const raw = await ollama.generate({ model, prompt, raw: true, stream: false, options });
out.generate_raw = raw.response;

const messages = [{ role: "user", content: prompt }];
const chat = await ollama.chat({ model, messages, stream: false, options });
out.chat = chat.message.content;
out.chat_role = chat.message.role;
out.chat_final = { done: chat.done, done_reason: chat.done_reason, eval_count: chat.eval_count };
streamed = "";
for await (const part of await ollama.chat({ model, messages, stream: true, options })) streamed += part.message.content;
out.chat_stream = streamed;

// ":latest" is implied, as Ollama users write names.
const latest = await ollama.generate({ model: `${model}:latest`, prompt, stream: false, options });
out.latest_same = latest.response === gen.response;

try {
  await ollama.generate({ model: "no-such-model", prompt, stream: false });
  out.not_found = "no error";
} catch (e) {
  out.not_found = { status: e.status_code, error: e.error };
}
try {
  await ollama.generate({ model, prompt, stream: false, format: "json" });
  out.format = "no error";
} catch (e) {
  out.format = { status: e.status_code, error: e.error };
}
console.log(JSON.stringify(out));
