// Decoding a stories.v1 error in Node.js, from the published protos alone.
//
// Every error carries a google.rpc.Status in the `grpc-status-details-bin` trailer: its
// details are google.protobuf.Any values (ErrorInfo always; BadRequest, PreconditionFailure,
// QuotaFailure, RetryInfo as the error has them), whose messages are in proto/google/rpc.
//
// Usage: node errors.mjs TARGET API_KEY  -> one JSON line per refused call, on stdout.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const [target, apiKey] = process.argv.slice(2);
const protoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "proto");

// keepCase: field names as in the .proto (job_id, not jobId); longs: String, so int64 sizes
// never lose precision; enums: String, so states read JOB_STATE_SUCCEEDED, not 4;
// defaults: unset fields appear with their zero value; oneofs: the set member is named.
const definition = protoLoader.loadSync("stories/v1/stories.proto", {
  includeDirs: [protoRoot],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { StoryService } = grpc.loadPackageDefinition(definition).stories.v1;
const client = new StoryService(target, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set("authorization", `Bearer ${apiKey}`);

const rpc = new protobuf.Root();
rpc.resolvePath = (_, file) => (file.startsWith("google/protobuf/") ? file : join(protoRoot, file));
rpc.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"], { keepCase: true });
const Status = rpc.lookupType("google.rpc.Status");

/** The google.rpc.Status of a failed call, its details unpacked to plain objects. */
export function statusOf(error) {
  const [bytes] = error.metadata.get("grpc-status-details-bin");
  const status = Status.toObject(Status.decode(bytes), { longs: String, enums: String });
  status.details = status.details.map((any) => {
    const type = rpc.lookupType(any.type_url.split("/").pop());
    return { "@type": type.fullName.slice(1), ...type.toObject(type.decode(any.value)) };
  });
  return status;
}

const call = (method, request) =>
  new Promise((resolve) =>
    client[method](request, metadata, (error) => resolve(error ? statusOf(error) : null)),
  );

const refused = {
  // Every wrong field at once: a BadRequest names each.
  create: await call("CreateJob", { text: "", content_type: "poetry", pictures: 0 }),
  missing: await call("GetJob", { job_id: "00000000-0000-0000-0000-000000000000" }),
  view: await call("GetJob", { job_id: "x", view: 99 }),
};
for (const [name, status] of Object.entries(refused)) {
  console.log(JSON.stringify({ call: name, ...status }));
}
client.close();
