// Decoding a stories.v1 error in Java, from the published protos.
//
// Every error carries a google.rpc.Status in the `grpc-status-details-bin` trailer: its
// details are google.protobuf.Any values (ErrorInfo always; BadRequest, PreconditionFailure,
// QuotaFailure, RetryInfo as the error has them). StatusProto.fromThrowable reads that
// Status; Any.unpack turns each detail into its com.google.rpc message.
//
// Usage: Errors TARGET API_KEY, or from Maven: mvn -q compile exec:java -Dserver=TARGET -Dkey=API_KEY
//   -> one JSON line per refused call, on stdout, as examples/clients/node/errors.mjs prints.
package stories.examples;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import com.google.rpc.BadRequest;
import com.google.rpc.DebugInfo;
import com.google.rpc.ErrorInfo;
import com.google.rpc.Help;
import com.google.rpc.LocalizedMessage;
import com.google.rpc.PreconditionFailure;
import com.google.rpc.QuotaFailure;
import com.google.rpc.RequestInfo;
import com.google.rpc.ResourceInfo;
import com.google.rpc.RetryInfo;
import com.google.rpc.Status;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.MetadataUtils;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import stories.v1.Stories.CreateJobRequest;
import stories.v1.Stories.GetJobRequest;
import stories.v1.StoryServiceGrpc;
import stories.v1.StoryServiceGrpc.StoryServiceBlockingStub;

public final class Errors {
  /** The detail messages google.rpc defines; a stories.v1 error's details are among them. */
  private static final List<Class<? extends Message>> DETAIL_TYPES = List.of(
      ErrorInfo.class, BadRequest.class, PreconditionFailure.class, QuotaFailure.class,
      RetryInfo.class, ResourceInfo.class, RequestInfo.class, Help.class,
      LocalizedMessage.class, DebugInfo.class);

  // Field names as in the .proto (field_violations, not fieldViolations), on one line.
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();

  public static void main(String[] args) throws Exception {
    String target = args[0];
    String apiKey = args[1];
    ManagedChannel channel =
        Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build();
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + apiKey);
    StoryServiceBlockingStub client = StoryServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));

    Map<String, Status> refused = new LinkedHashMap<>();
    // Every wrong field at once (empty text, no pictures, an unknown style): a BadRequest
    // names each.
    refused.put("create", refusal(() -> client.createJob(
        CreateJobRequest.newBuilder().setText("").setContentType("poetry").setPictures(0)
            .build())));
    refused.put("missing", refusal(() -> client.getJob(
        GetJobRequest.newBuilder().setJobId("00000000-0000-0000-0000-000000000000").build())));
    // A JobView number the proto does not define.
    refused.put("view", refusal(() -> client.getJob(
        GetJobRequest.newBuilder().setJobId("x").setViewValue(99).build())));
    for (Map.Entry<String, Status> call : refused.entrySet()) {
      System.out.println(line(call.getKey(), call.getValue()));
    }
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** The google.rpc.Status a call was refused with; null if it succeeded. */
  static Status refusal(Runnable call) {
    try {
      call.run();
      return null;
    } catch (StatusRuntimeException e) {
      return StatusProto.fromThrowable(e); // null only if the trailer is missing
    }
  }

  /**
   * A detail as its own message. A client branches on these, for instance
   * {@code if (any.is(RetryInfo.class)) any.unpack(RetryInfo.class).getRetryDelay()}, or on
   * {@code any.unpack(ErrorInfo.class).getReason()} (INVALID_FIELD, NOT_FOUND, ...).
   */
  static Message unpack(Any any) throws InvalidProtocolBufferException {
    for (Class<? extends Message> type : DETAIL_TYPES) {
      if (any.is(type)) {
        return any.unpack(type);
      }
    }
    throw new InvalidProtocolBufferException("not a google.rpc detail: " + any.getTypeUrl());
  }

  /** {"call", "code", "message", "details": [{"@type": "google.rpc.ErrorInfo", ...}]} */
  static String line(String call, Status status) throws InvalidProtocolBufferException {
    JsonObject line = new JsonObject();
    line.addProperty("call", call);
    if (status == null) {
      return line.toString();
    }
    line.addProperty("code", status.getCode()); // a google.rpc.Code: 3 is INVALID_ARGUMENT
    line.addProperty("message", status.getMessage());
    JsonArray details = new JsonArray();
    for (Any any : status.getDetailsList()) {
      Message detail = unpack(any);
      JsonObject object = new JsonObject();
      object.addProperty("@type", detail.getDescriptorForType().getFullName());
      JsonParser.parseString(JSON.print(detail)).getAsJsonObject().entrySet()
          .forEach(field -> object.add(field.getKey(), field.getValue()));
      details.add(object);
    }
    line.add("details", details);
    return line.toString();
  }
}
