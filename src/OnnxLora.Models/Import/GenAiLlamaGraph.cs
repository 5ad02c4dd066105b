// Builds a Llama decoder in the ORT GenAI layout, as Microsoft's model builder emits it:
// Gather embedding, SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization,
// MatMul weights stored [in, out], GroupQueryAttention with fused rotary and a KV cache.
// It only lays out the graph; the caller supplies each weight as an Initializer.
// B=batch, S=new tokens, P=past length, T=total length, D=hidden, H=heads, K=kv heads, d=head dim
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models.Import;

public static class GenAiLlamaGraph
{
    /// <summary>Weights the layout needs, in the order they are written, with their [in, out] (or 1-D) shapes.</summary>
    public static IEnumerable<(string Name, long[] Shape)> WeightShapes(LlamaConfig c)
    {
        long d = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        yield return (GenAiNames.Embedding, [c.VocabSize, d]);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            yield return (GenAiNames.InputNorm(i), [d]);
            yield return (GenAiNames.Projection(i, "q_proj"), [d, q]);
            yield return (GenAiNames.Projection(i, "k_proj"), [d, kv]);
            yield return (GenAiNames.Projection(i, "v_proj"), [d, kv]);
            yield return (GenAiNames.Projection(i, "o_proj"), [q, d]);
            yield return (GenAiNames.PostAttentionNorm(i), [d]);
            yield return (GenAiNames.Projection(i, "gate_proj"), [d, c.IntermediateSize]);
            yield return (GenAiNames.Projection(i, "up_proj"), [d, c.IntermediateSize]);
            yield return (GenAiNames.Projection(i, "down_proj"), [c.IntermediateSize, d]);
        }
        yield return (GenAiNames.FinalNorm(c.NumHiddenLayers), [d]);
        yield return (GenAiNames.LmHead, [d, c.VocabSize]);
    }

    public static Model Build(LlamaConfig c, ElementType dtype, Func<string, long[], Initializer> weight)
    {
        var graph = new Graph { Name = "main_graph" };
        var b = new GraphBuilder(graph);
        foreach (var (name, shape) in WeightShapes(c))
        {
            graph.AddInitializer(weight(name, shape));
        }
        var (cos, sin) = Rope.Caches(c, c.MaxPositionEmbeddings);
        AddCache(graph, GenAiNames.CosCache, cos, c, dtype);
        AddCache(graph, GenAiNames.SinCache, sin, c, dtype);

        graph.Inputs.Add(Graph.MakeValueInfo(GenAiNames.InputIds, ElementType.Int64, "batch_size", "sequence_length"));
        graph.Inputs.Add(Graph.MakeValueInfo(GenAiNames.AttentionMask, ElementType.Int64, "batch_size", "total_sequence_length"));
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            graph.Inputs.Add(Graph.MakeValueInfo(GenAiNames.PastKey(i), dtype, "batch_size", c.NumKeyValueHeads, "past_sequence_length", c.HeadDim));
            graph.Inputs.Add(Graph.MakeValueInfo(GenAiNames.PastValue(i), dtype, "batch_size", c.NumKeyValueHeads, "past_sequence_length", c.HeadDim));
        }
        graph.Outputs.Add(Graph.MakeValueInfo(GenAiNames.Logits, dtype, "batch_size", "sequence_length", c.VocabSize));
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            graph.Outputs.Add(Graph.MakeValueInfo(GenAiNames.PresentKey(i), dtype, "batch_size", c.NumKeyValueHeads, "total_sequence_length", c.HeadDim));
            graph.Outputs.Add(Graph.MakeValueInfo(GenAiNames.PresentValue(i), dtype, "batch_size", c.NumKeyValueHeads, "total_sequence_length", c.HeadDim));
        }

        // seqlens_k = sum(attention_mask, 1) - 1 (int32, (B)); total_sequence_length = attention_mask.shape[1] (int32 scalar)
        b.Scope = "/model/attn_mask_reformat/";
        var seqLens = b.Cast(b.Sub(b.ReduceSum(GenAiNames.AttentionMask, [1], keepDims: false), b.ScalarI64(1)), ElementType.Int32);
        var totalLen = b.Cast(b.Gather(b.Shape(GenAiNames.AttentionMask), b.ScalarI64(1)), ElementType.Int32);

        b.Scope = "/model/embed_tokens/";
        var hidden = b.Gather(GenAiNames.Embedding, GenAiNames.InputIds); // (B,S,D)
        string residual = hidden;
        string normed = "";
        float eps = (float)c.RmsNormEps;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            b.Scope = $"/model/layers.{i}/input_layernorm/";
            if (i == 0)
            {
                normed = b.Op("SimplifiedLayerNormalization", [hidden, GenAiNames.InputNorm(i)], ("axis", -1L), ("epsilon", eps), ("stash_type", 1L));
            }
            else
            {
                (normed, residual) = SkipNorm(b, hidden, residual, GenAiNames.InputNorm(i), eps);
            }

            b.Scope = $"/model/layers.{i}/attn/";
            var q = b.MatMul(normed, GenAiNames.Projection(i, "q_proj")); // (B,S,H·d)
            var k = b.MatMul(normed, GenAiNames.Projection(i, "k_proj")); // (B,S,K·d)
            var v = b.MatMul(normed, GenAiNames.Projection(i, "v_proj")); // (B,S,K·d)
            var gqa = b.Node("GroupQueryAttention",
                [q, k, v, GenAiNames.PastKey(i), GenAiNames.PastValue(i), seqLens, totalLen, GenAiNames.CosCache, GenAiNames.SinCache],
                outputs: 1, domain: Model.MicrosoftDomain,
                ("num_heads", (long)c.NumAttentionHeads), ("kv_num_heads", (long)c.NumKeyValueHeads),
                ("do_rotary", 1L), ("rotary_interleaved", 0L), ("scale", 1.0f / MathF.Sqrt(c.HeadDim)));
            var gqaNode = graph.Nodes[^1];
            gqaNode.Outputs.Add(GenAiNames.PresentKey(i));
            gqaNode.Outputs.Add(GenAiNames.PresentValue(i));
            var attn = b.MatMul(gqa[0], GenAiNames.Projection(i, "o_proj")); // (B,S,D)

            b.Scope = $"/model/layers.{i}/post_attention_layernorm/";
            (normed, residual) = SkipNorm(b, attn, residual, GenAiNames.PostAttentionNorm(i), eps);

            b.Scope = $"/model/layers.{i}/mlp/";
            var gate = b.MatMul(normed, GenAiNames.Projection(i, "gate_proj")); // (B,S,I)
            var up = b.MatMul(normed, GenAiNames.Projection(i, "up_proj"));
            var act = b.Mul(gate, b.Sigmoid(gate)); // silu
            hidden = b.MatMul(b.Mul(act, up), GenAiNames.Projection(i, "down_proj")); // (B,S,D)
        }
        b.Scope = "/model/layers.final_norm/";
        (normed, _) = SkipNorm(b, hidden, residual, GenAiNames.FinalNorm(c.NumHiddenLayers), eps);
        b.Scope = "/lm_head/";
        b.NodeWithOutputs("MatMul", [normed, GenAiNames.LmHead], [GenAiNames.Logits]);

        var model = new Model(graph);
        model.EnsureOpset(Model.MicrosoftDomain, 1);
        model.Header.ProducerName = "onnxlora";
        return model;
    }

    private static (string Normed, string Sum) SkipNorm(GraphBuilder b, string x, string skip, string weight, float eps)
    {
        var outs = b.Node("SkipSimplifiedLayerNormalization", [x, skip, weight], outputs: 4, domain: Model.MicrosoftDomain,
            ("epsilon", eps));
        // outputs: normalized, mean (unused), inv_std_var (unused), input+skip sum
        var node = b.Graph.Nodes[^1];
        node.Outputs[1] = "";
        node.Outputs[2] = "";
        return (outs[0], outs[3]);
    }

    private static void AddCache(Graph graph, string name, float[] values, LlamaConfig c, ElementType dtype)
    {
        long[] dims = [c.MaxPositionEmbeddings, c.HeadDim / 2];
        var init = Initializer.FromFloats(name, values, dims);
        graph.AddInitializer(dtype == ElementType.Float ? init : Convert(init, dtype));
    }

    private static Initializer Convert(Initializer f32, ElementType dtype)
    {
        var floats = f32.ToFloats();
        var bytes = new byte[floats.Length * dtype.SizeInBytes()];
        ElementConversion.FromFloat32(dtype, floats, bytes);
        return new Initializer(f32.Name, dtype, f32.Dims, TensorData.FromBytes(bytes));
    }
}
