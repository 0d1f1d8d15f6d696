// A Node.js client of stories.v1, loading the .proto files as any other team would.
// Usage: node client.mjs TARGET API_KEY TEXT_FILE  -> prints a JSON summary on stdout.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [target, apiKey, textFile] = process.argv.slice(2);
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "proto");
const definition = protoLoader.loadSync("stories/v1/stories.proto", {
  includeDirs: [root],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
});
const { StoryService } = grpc.loadPackageDefinition(definition).stories.v1;
const client = new StoryService(target, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set("authorization", `Bearer ${apiKey}`);

const unary = (method, request) =>
  new Promise((resolve, reject) =>
    client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response))),
  );

function watch(jobId) {
  return new Promise((resolve, reject) => {
    const kinds = [];
    const stream = client.WatchJob({ job_id: jobId }, metadata);
    stream.on("data", (response) => kinds.push(response.event.kind));
    stream.on("error", reject);
    stream.on("end", () => resolve(kinds));
  });
}

function readAsset(assetId) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const stream = client.ReadAsset({ asset_id: assetId, offset: 0 }, metadata);
    stream.on("data", (response) => chunks.push(response.data));
    stream.on("error", reject);
    stream.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

const created = await unary("CreateJob", {
  text: readFileSync(textFile, "utf8"),
  content_type: "educational",
  pictures: 2,
  audio_type: "AUDIO_TYPE_FREE_SPEECH",
});
const kinds = await watch(created.job.id);
const { job } = await unary("GetJob", { job_id: created.job.id, view: "JOB_VIEW_FULL" });
const image = job.segments[0].assets.find((asset) => asset.kind === "ASSET_KIND_IMAGE");
const bytes = await readAsset(image.id);
console.log(
  JSON.stringify({
    job_id: job.id,
    state: job.state,
    events: kinds,
    segments: job.segments.length,
    image_size: bytes.length,
    image_expected_size: image.size_bytes,
    image_checksum_ok: `sha256:${createHash("sha256").update(bytes).digest("hex")}` === image.checksum,
    png: bytes.subarray(1, 4).toString() === "PNG",
  }),
);
client.close();
