// One progress or log line of a job, in the order the store numbered them (served as server-sent events).
namespace OnnxLora.Worker.Jobs;

public sealed record JobEvent(long Seq, string JobId, string Kind, string Data, long CreatedMs);
