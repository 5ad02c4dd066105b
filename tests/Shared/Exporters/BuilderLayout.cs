// Writes a model folder laid out exactly as Microsoft's ORT GenAI model builder writes a Llama, from a Hugging
// Face checkpoint (the shared fixture), following microsoft/onnxruntime-genai at commit
// a0c04eb1313b886c963e415bbd974748cb89a4eb, src/python/py/models/builders/base.py: node and value names
// ("/model/layers.0/attn/qkv_proj/MatMul", "<node>/output_0"), initializer names
// ("model.layers.0.attn.qkv_proj.MatMul.weight" = [Wq;Wk;Wv]ᵀ, "…qkv_proj.Add.bias"), Constant nodes for
// "/model/constants/…", GroupQueryAttention's 12 inputs and attributes (make_group_query_attention), the mask
// reformatting (make_attention_mask_reformatting_for_gqa), SimplifiedLayerNormalization / SkipSimplified…
// (make_layernorm), SiLU as Sigmoid+Mul (make_activation_with_mul), tied embeddings as Transpose+Gather of
// lm_head.MatMul.weight (make_embedding), the bf16 logits Cast (make_lm_head), RotaryEmbedding nodes with a
// position_ids input when rotary is not fused (make_attention_qk_rope), genai_config.json (make_genai_config)
// and every initializer in <filename>.data (save_model). Test support only: it is the exporter under test's
// stand-in, not product code. B=batch, S=new tokens, D=hidden, H=heads, K=kv heads, d=head dim.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxLora.Models;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Testing;

public sealed record BuilderOptions
{
    /// <summary>The builder's io dtype: -p fp32 (-e cpu), fp16 or bf16 (-e cuda).</summary>
    public ElementType Precision { get; init; } = ElementType.Float;

    /// <summary>use_packed_matmul: the default with GroupQueryAttention unless LoRA or q/k norms are exported.</summary>
    public bool PackedQkv { get; init; } = true;

    /// <summary>use_rope_in_attn: false writes RotaryEmbedding nodes fed by a position_ids input (the builder's dml form).</summary>
    public bool FusedRotary { get; init; } = true;

    /// <summary>shared_embeddings=true: the embedding is a Transpose+Gather of lm_head.MatMul.weight (tied checkpoints).</summary>
    public bool SharedEmbeddings { get; init; }

    /// <summary>Qwen2-style q/k/v biases (deterministic values from <see cref="BuilderLayout.Bias"/>).</summary>
    public bool QkvBias { get; init; }

    /// <summary>--extra_options filename=…: the decoder file, named in genai_config.json.</summary>
    public string Filename { get; init; } = "model.onnx";

    /// <summary>-p int4 with the committed reference codes: "sym" (the default quantizer) or "asym" (is_symmetric=false); null = float.</summary>
    public string? Int4 { get; init; }

    /// <summary>With <see cref="Int4"/>: the lm_head quantized too (the builder's default) or kept float (nodes_to_exclude).</summary>
    public bool Int4LmHead { get; init; } = true;

    /// <summary>With <see cref="Int4"/>: MatMulNBits' accuracy_level, 4 as the builder writes for -e cpu, 0 for other providers.</summary>
    public long Int4AccuracyLevel { get; init; } = Int4BuilderLayout.CpuAccuracyLevel;
}

public static class BuilderLayout
{
    /// <summary>The onnxruntime-genai commit whose builder this follows.</summary>
    public const string Commit = "a0c04eb1313b886c963e415bbd974748cb89a4eb";

    /// <summary>Builds the folder for the checkpoint in <paramref name="hfDir"/>; returns <paramref name="outDir"/>.</summary>
    public static string Write(string hfDir, string outDir, BuilderOptions o)
    {
        var c = LlamaConfig.Load(Path.Combine(hfDir, "config.json"));
        using var weights = SafetensorsFile.Open(Path.Combine(hfDir, "model.safetensors"));
        var model = Build(c, name => weights.ReadAsFloat32(name), o);
        if (o.Int4 is { } variant)
        {
            Int4BuilderLayout.Apply(model, Int4BuilderLayout.Tensors(variant), o.Int4LmHead, o.Int4AccuracyLevel);
        }
        Directory.CreateDirectory(outDir);
        ModelWriter.Save(model, Path.Combine(outDir, o.Filename),
            new ExternalDataOptions { DataFileName = o.Filename + ".data", InlineThreshold = 0, ReferenceFilesInOutputFolder = false });
        File.WriteAllText(Path.Combine(outDir, "genai_config.json"), GenAiConfig(c, o).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "tokenizer.model" })
        {
            if (File.Exists(Path.Combine(hfDir, f)))
            {
                File.Copy(Path.Combine(hfDir, f), Path.Combine(outDir, f), overwrite: true);
            }
        }
        return outDir;
    }

    /// <summary>A bias value for q/k/v of a layer (Qwen2-style variants): small, deterministic, different per entry.</summary>
    public static float[] Bias(int layer, string proj, int size)
    {
        var rng = new Random((layer * 31) + proj[0]);
        return [.. Enumerable.Range(0, size).Select(_ => (float)((rng.NextDouble() * 2) - 1) * 0.05f)];
    }

    /// <summary>The checkpoint with tie_word_embeddings=true and no lm_head.weight (the LM head reads the embedding).</summary>
    public static string WriteTiedCheckpoint(string hfDir, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(hfDir, "config.json")))!.AsObject();
        config["tie_word_embeddings"] = true;
        File.WriteAllText(Path.Combine(outDir, "config.json"), config.ToJsonString());
        using (var src = SafetensorsFile.Open(Path.Combine(hfDir, "model.safetensors")))
        {
            var tensors = src.Names.Where(n => n != "lm_head.weight").Select(n => SafetensorsTensor.FromFloat32(n, src.ReadAsFloat32(n), src.GetInfo(n).Shape)).ToList();
            SafetensorsWriter.Write(Path.Combine(outDir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        foreach (var f in Directory.EnumerateFiles(hfDir).Where(f => Path.GetFileName(f).StartsWith("tokenizer", StringComparison.Ordinal)))
        {
            File.Copy(f, Path.Combine(outDir, Path.GetFileName(f)), overwrite: true);
        }
        return outDir;
    }

    public static Model Build(LlamaConfig c, Func<string, float[]> hf, BuilderOptions o)
    {
        var io = o.Precision;
        long d = c.HeadDim, hidden = c.HiddenSize, qSize = c.NumAttentionHeads * d, kvSize = c.NumKeyValueHeads * d;
        var w = new Writer(io);
        var g = w.Graph;

        // make_inputs_and_outputs: input_names order, then outputs
        g.Inputs.Add(Graph.MakeValueInfo("input_ids", ElementType.Int64, "batch_size", "sequence_length"));
        g.Inputs.Add(Graph.MakeValueInfo("attention_mask", ElementType.Int64, "batch_size", "total_sequence_length"));
        if (!o.FusedRotary)
        {
            g.Inputs.Add(Graph.MakeValueInfo("position_ids", ElementType.Int64, "batch_size", "sequence_length"));
        }
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            g.Inputs.Add(Graph.MakeValueInfo($"past_key_values.{i}.key", io, "batch_size", c.NumKeyValueHeads, "past_sequence_length", "kv_cache_dim"));
        }
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            g.Inputs.Add(Graph.MakeValueInfo($"past_key_values.{i}.value", io, "batch_size", c.NumKeyValueHeads, "past_sequence_length", "kv_cache_dim"));
        }
        var logitsType = io == ElementType.BFloat16 ? ElementType.Float : io; // make_outputs_init: fp32 logits for bf16
        g.Outputs.Add(Graph.MakeValueInfo("logits", logitsType, "batch_size", "sequence_length", c.VocabSize));
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            g.Outputs.Add(Graph.MakeValueInfo($"present.{i}.key", io, "batch_size", c.NumKeyValueHeads, "total_sequence_length", "kv_cache_dim"));
        }
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            g.Outputs.Add(Graph.MakeValueInfo($"present.{i}.value", io, "batch_size", c.NumKeyValueHeads, "total_sequence_length", "kv_cache_dim"));
        }

        // make_attention_mask_reformatting_for_gqa
        const string mask = "/model/attn_mask_reformat/attn_mask_subgraph";
        w.Node("ReduceSum", $"{mask}/ReduceSum", ["attention_mask", w.Const("INT64", "[1]")], ("keepdims", 0L));
        w.Node("Sub", $"{mask}/Sub", [$"{mask}/ReduceSum/output_0", w.Const("INT64", "[1]")]);
        w.Node("Cast", $"{mask}/Sub/Cast", [$"{mask}/Sub/output_0"], ("to", (long)ElementType.Int32));
        w.Node("Shape", $"{mask}/Shape", ["attention_mask"]);
        w.Node("Gather", $"{mask}/Gather", [$"{mask}/Shape/output_0", w.Const("INT64", "1")], ("axis", 0L));
        w.Node("Cast", $"{mask}/Gather/Cast", [$"{mask}/Gather/output_0"], ("to", (long)ElementType.Int32));
        var seqLensK = $"{mask}/Sub/Cast/output_0";
        var totalSeqLen = $"{mask}/Gather/Cast/output_0";

        // make_embedding
        var embed = hf("model.embed_tokens.weight"); // (V,D)
        string gatherOut = "/model/embed_tokens/Gather/output_0";
        var lmHead = c.TieWordEmbeddings ? embed : hf("lm_head.weight"); // (V,D)
        if (o.SharedEmbeddings)
        {
            if (!c.TieWordEmbeddings)
            {
                throw new ArgumentException("shared_embeddings=true requires tie_word_embeddings (as the builder checks)");
            }
            w.Weight("lm_head.MatMul.weight", Transpose(lmHead, c.VocabSize, hidden), hidden, c.VocabSize);
            w.Node("Transpose", "/model/embed_tokens/Transpose", ["lm_head.MatMul.weight"], ("perm", new long[] { 1, 0 }));
            w.Node("Gather", "/model/embed_tokens/Gather", ["/model/embed_tokens/Transpose/output_0", "input_ids"]);
        }
        else
        {
            w.Weight("model.embed_tokens.weight", embed, c.VocabSize, hidden);
            w.Node("Gather", "/model/embed_tokens/Gather", ["model.embed_tokens.weight", "input_ids"]);
        }
        string root = gatherOut, skip = gatherOut, normed;

        string cos = "", sin = "";
        var (cosValues, sinValues) = Rope.Caches(c, c.MaxPositionEmbeddings);
        w.Weight("cos_cache", cosValues, c.MaxPositionEmbeddings, d / 2);
        w.Weight("sin_cache", sinValues, c.MaxPositionEmbeddings, d / 2);
        if (o.FusedRotary)
        {
            (cos, sin) = ("cos_cache", "sin_cache");
        }

        float eps = (float)c.RmsNormEps;
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            // make_layernorm(location="input"): the first is SimplifiedLayerNormalization, later ones Skip…
            (normed, root) = LayerNorm(w, i, "input", root, skip, hf($"model.layers.{i}.input_layernorm.weight"), eps, first: i == 0, last: false, hidden);

            // make_attention_input_proj
            string qPath, kPath = "", vPath = "";
            float[] Wq = hf($"model.layers.{i}.self_attn.q_proj.weight"), Wk = hf($"model.layers.{i}.self_attn.k_proj.weight"),
                Wv = hf($"model.layers.{i}.self_attn.v_proj.weight");
            if (o.PackedQkv)
            {
                var name = $"/model/layers.{i}/attn/qkv_proj/MatMul";
                qPath = w.MatMul(name, normed, Transpose([.. Wq, .. Wk, .. Wv], qSize + 2 * kvSize, hidden), hidden, qSize + 2 * kvSize);
                if (o.QkvBias)
                {
                    float[] bias = [.. Bias(i, "q_proj", (int)qSize), .. Bias(i, "k_proj", (int)kvSize), .. Bias(i, "v_proj", (int)kvSize)];
                    qPath = w.AddBias($"/model/layers.{i}/attn/qkv_proj/Add", qPath, bias);
                }
            }
            else
            {
                qPath = w.MatMul($"/model/layers.{i}/attn/q_proj/MatMul", normed, Transpose(Wq, qSize, hidden), hidden, qSize);
                kPath = w.MatMul($"/model/layers.{i}/attn/k_proj/MatMul", normed, Transpose(Wk, kvSize, hidden), hidden, kvSize);
                vPath = w.MatMul($"/model/layers.{i}/attn/v_proj/MatMul", normed, Transpose(Wv, kvSize, hidden), hidden, kvSize);
                if (o.QkvBias)
                {
                    qPath = w.AddBias($"/model/layers.{i}/attn/q_proj/Add", qPath, Bias(i, "q_proj", (int)qSize));
                    kPath = w.AddBias($"/model/layers.{i}/attn/k_proj/Add", kPath, Bias(i, "k_proj", (int)kvSize));
                    vPath = w.AddBias($"/model/layers.{i}/attn/v_proj/Add", vPath, Bias(i, "v_proj", (int)kvSize));
                }
            }
            if (!o.FusedRotary)
            {
                // make_attention_qk_rope → make_rotary_embedding (num_heads 0 for full rotary, interleaved 0, rotary_embedding_dim 0)
                foreach (var (which, path) in new[] { ("q_rotary", qPath), ("k_rotary", kPath) })
                {
                    var name = $"/model/layers.{i}/attn/{which}/RotaryEmbedding";
                    w.Node("RotaryEmbedding", name, [path, "position_ids", "cos_cache", "sin_cache"], Model.MicrosoftDomain,
                        ("interleaved", 0L), ("num_heads", 0L), ("rotary_embedding_dim", 0L));
                    w.Value(name + "/output_0", io, "batch_size", "sequence_length", which == "q_rotary" ? qSize : kvSize);
                    if (which == "q_rotary")
                    {
                        qPath = name + "/output_0";
                    }
                    else
                    {
                        kPath = name + "/output_0";
                    }
                }
            }
            // make_group_query_attention: 12 inputs (position_ids, attention_bias, sinks empty), shared attributes
            var gqa = $"/model/layers.{i}/attn/GroupQueryAttention";
            w.NodeWithOutputs("GroupQueryAttention", gqa,
                [qPath, kPath, vPath, $"past_key_values.{i}.key", $"past_key_values.{i}.value", seqLensK, totalSeqLen, cos, sin, "", "", ""],
                [gqa + "/output_0", $"present.{i}.key", $"present.{i}.value"], Model.MicrosoftDomain,
                ("num_heads", (long)c.NumAttentionHeads), ("kv_num_heads", (long)c.NumKeyValueHeads), ("scale", 1f / MathF.Sqrt(d)),
                ("local_window_size", -1L), ("softcap", 0f), ("do_rotary", o.FusedRotary ? 1L : 0L), ("rotary_interleaved", 0L));
            w.Value(gqa + "/output_0", io, "batch_size", "sequence_length", qSize);
            // make_attention_output_proj
            skip = w.MatMul($"/model/layers.{i}/attn/o_proj/MatMul", gqa + "/output_0",
                Transpose(hf($"model.layers.{i}.self_attn.o_proj.weight"), hidden, qSize), qSize, hidden);

            (normed, root) = LayerNorm(w, i, "post_attention", root, skip, hf($"model.layers.{i}.post_attention_layernorm.weight"), eps, false, false, hidden);

            // make_mlp_proj + make_activation_with_mul(Sigmoid)
            long inter = c.IntermediateSize;
            var gate = w.MatMul($"/model/layers.{i}/mlp/gate_proj/MatMul", normed, Transpose(hf($"model.layers.{i}.mlp.gate_proj.weight"), inter, hidden), hidden, inter);
            var up = w.MatMul($"/model/layers.{i}/mlp/up_proj/MatMul", normed, Transpose(hf($"model.layers.{i}.mlp.up_proj.weight"), inter, hidden), hidden, inter);
            w.Node("Sigmoid", $"/model/layers.{i}/mlp/act_fn/Sigmoid", [gate]);
            w.Node("Mul", $"/model/layers.{i}/mlp/act_fn/Mul", [gate, $"/model/layers.{i}/mlp/act_fn/Sigmoid/output_0"]);
            w.Node("Mul", $"/model/layers.{i}/mlp/Mul", [$"/model/layers.{i}/mlp/act_fn/Mul/output_0", up]);
            skip = w.MatMul($"/model/layers.{i}/mlp/down_proj/MatMul", $"/model/layers.{i}/mlp/Mul/output_0",
                Transpose(hf($"model.layers.{i}.mlp.down_proj.weight"), hidden, inter), inter, hidden);
        }
        // final norm: a Skip… with output 0 only (last_layernorm), weight model.layers.{N}.final_norm_layernorm.weight
        (normed, _) = LayerNorm(w, c.NumHiddenLayers, "final_norm", root, skip, hf("model.norm.weight"), eps, false, last: true, hidden);

        // make_lm_head: MatMul → logits, or → /lm_head/Cast (to fp32) → logits for bf16
        if (!o.SharedEmbeddings)
        {
            w.Weight("lm_head.MatMul.weight", Transpose(lmHead, c.VocabSize, hidden), hidden, c.VocabSize);
        }
        if (logitsType == io)
        {
            w.NodeWithOutputs("MatMul", "/lm_head/MatMul", [normed, "lm_head.MatMul.weight"], ["logits"], "");
        }
        else
        {
            w.Node("MatMul", "/lm_head/MatMul", [normed, "lm_head.MatMul.weight"]);
            w.NodeWithOutputs("Cast", "/lm_head/Cast", ["/lm_head/MatMul/output_0"], ["logits"], "", ("to", (long)logitsType));
        }
        g.TopologicalSort();
        var header = new Onnx.Proto.ModelProto { IrVersion = 10, ProducerName = "onnxruntime-genai" };
        header.OpsetImport.Add(new Onnx.Proto.OperatorSetIdProto { Domain = "", Version = 21 });
        header.OpsetImport.Add(new Onnx.Proto.OperatorSetIdProto { Domain = Model.MicrosoftDomain, Version = 1 });
        return new Model(g, header);
    }

    // make_layernorm: name /model/layers.{i}/{location}_layernorm/{Skip}LayerNorm, outputs …/output_0 and …/output_3.
    private static (string Normed, string Root) LayerNorm(Writer w, int layer, string location, string root, string skip, float[] weight, float eps,
        bool first, bool last, long hidden)
    {
        var basename = $"/model/layers.{layer}/{location}_layernorm";
        var weightName = $"model.layers.{layer}.{location}_layernorm.weight";
        w.Weight(weightName, weight, hidden);
        if (first)
        {
            w.NodeWithOutputs("SimplifiedLayerNormalization", basename + "/LayerNorm", [root, weightName], [basename + "/output_0"], "",
                ("epsilon", eps), ("axis", -1L), ("stash_type", 1L));
            return (basename + "/output_0", root);
        }
        string[] outputs = last ? [basename + "/output_0"] : [basename + "/output_0", "", "", basename + "/output_3"];
        w.NodeWithOutputs("SkipSimplifiedLayerNormalization", basename + "/SkipLayerNorm", [root, skip, weightName], outputs, Model.MicrosoftDomain,
            ("epsilon", eps));
        return (basename + "/output_0", last ? root : basename + "/output_3");
    }

    private static JsonObject GenAiConfig(LlamaConfig c, BuilderOptions o)
    {
        var inputs = new JsonObject { ["input_ids"] = "input_ids", ["attention_mask"] = "attention_mask" };
        if (!o.FusedRotary)
        {
            inputs["position_ids"] = "position_ids";
        }
        inputs["past_key_names"] = "past_key_values.%d.key";
        inputs["past_value_names"] = "past_key_values.%d.value";
        JsonNode eos = c.EosTokenIds.Length == 1 ? c.EosTokenIds[0] : new JsonArray([.. c.EosTokenIds.Select(x => (JsonNode)x)]);
        return new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["bos_token_id"] = c.BosTokenId ?? 1,
                ["context_length"] = c.MaxPositionEmbeddings,
                ["decoder"] = new JsonObject
                {
                    ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
                    ["filename"] = o.Filename,
                    ["head_size"] = c.HeadDim,
                    ["hidden_size"] = c.HiddenSize,
                    ["inputs"] = inputs,
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = "logits", ["present_key_names"] = "present.%d.key", ["present_value_names"] = "present.%d.value",
                    },
                    ["num_attention_heads"] = c.NumAttentionHeads,
                    ["num_hidden_layers"] = c.NumHiddenLayers,
                    ["num_key_value_heads"] = c.NumKeyValueHeads,
                },
                ["eos_token_id"] = eos,
                ["pad_token_id"] = c.PadTokenId ?? (c.EosTokenIds.Length > 0 ? c.EosTokenIds[0] : 2),
                ["type"] = "llama",
                ["vocab_size"] = c.VocabSize,
            },
            ["search"] = new JsonObject
            {
                ["diversity_penalty"] = 0.0, ["do_sample"] = false, ["early_stopping"] = true, ["length_penalty"] = 1.0,
                ["max_length"] = c.MaxPositionEmbeddings, ["min_length"] = 0, ["no_repeat_ngram_size"] = 0, ["num_beams"] = 1,
                ["num_return_sequences"] = 1, ["past_present_share_buffer"] = true, ["repetition_penalty"] = 1.0, ["temperature"] = 1.0,
                ["top_k"] = 50, ["top_p"] = 1.0,
            },
        };
    }

    // HF stores W (out,in); the builder saves Wᵀ (in,out).
    private static float[] Transpose(float[] m, long rows, long cols)
    {
        var t = new float[m.Length];
        for (long r = 0; r < rows; r++)
        {
            for (long k = 0; k < cols; k++)
            {
                t[(k * rows) + r] = m[(r * cols) + k];
            }
        }
        return t;
    }

    /// <summary>Nodes named as the builder names them, outputs "&lt;node&gt;/output_0", weights in the io dtype.</summary>
    private sealed class Writer(ElementType io)
    {
        private readonly HashSet<string> _constants = new(StringComparer.Ordinal);

        public Graph Graph { get; } = new() { Name = "main_graph" };

        public void Node(string op, string name, string[] inputs, params (string, object)[] attributes) =>
            NodeWithOutputs(op, name, inputs, [name + "/output_0"], "", attributes);

        public void Node(string op, string name, string[] inputs, string domain, params (string, object)[] attributes) =>
            NodeWithOutputs(op, name, inputs, [name + "/output_0"], domain, attributes);

        /// <summary>make_value: the builder records a dtype and shape for most values it creates (saved as value_info).</summary>
        public void Value(string name, ElementType type, params Dim[] shape) => Graph.Extra.ValueInfo.Add(Graph.MakeValueInfo(name, type, shape));

        public void NodeWithOutputs(string op, string name, string[] inputs, string[] outputs, string domain, params (string, object)[] attributes)
        {
            var n = new Node(op, name, inputs, outputs, domain);
            foreach (var (k, v) in attributes)
            {
                n.SetAttribute(k, v);
            }
            Graph.AddNode(n);
        }

        // make_constant: Constant node "/model/constant_nodes/{dtype}/{value}" with output "/model/constants/{dtype}/{value}".
        public string Const(string dtype, string value)
        {
            var name = $"/model/constants/{dtype}/{value}";
            if (_constants.Add(name))
            {
                var values = value.Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                var tensor = new Onnx.Proto.TensorProto { DataType = (int)ElementType.Int64, Name = name };
                if (value.StartsWith('['))
                {
                    tensor.Dims.Add(values.Length);
                }
                tensor.Int64Data.AddRange(values);
                var node = new Node("Constant", name.Replace("constants", "constant_nodes", StringComparison.Ordinal), [], [name]);
                node.SetAttribute("value", tensor);
                Graph.AddNode(node);
            }
            return name;
        }

        public void Weight(string name, float[] values, params long[] dims)
        {
            var bytes = new byte[values.Length * io.SizeInBytes()];
            ElementConversion.FromFloat32(io, values, bytes);
            Graph.AddInitializer(new Initializer(name, io, dims, TensorData.FromBytes(bytes)));
        }

        // make_matmul_float: weight "<name without leading / and with / → .>.weight", stored [in,out].
        public string MatMul(string name, string input, float[] weightInOut, long inF, long outF)
        {
            var weight = name[1..].Replace('/', '.') + ".weight";
            Weight(weight, weightInOut, inF, outF);
            Node("MatMul", name, [input, weight]);
            Value(name + "/output_0", io, "batch_size", "sequence_length", outF);
            return name + "/output_0";
        }

        // make_add_bias: bias "<name…>.bias".
        public string AddBias(string name, string input, float[] bias)
        {
            var weight = name[1..].Replace('/', '.') + ".bias";
            Weight(weight, bias, bias.Length);
            Node("Add", name, [input, weight]);
            Value(name + "/output_0", io, "batch_size", "sequence_length", bias.Length);
            return name + "/output_0";
        }
    }
}
