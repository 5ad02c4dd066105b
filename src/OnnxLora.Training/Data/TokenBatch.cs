// One batch in the layout the training graph takes: input_ids, attention_mask and labels, each (B,T)
// row-major int64. B=batch, T=time (the longest row in the batch).
namespace OnnxLora.Training.Data;

public sealed record TokenBatch(long[] InputIds, long[] AttentionMask, long[] Labels, int B, int T);
