// Evaluates a base model, or base + PEFT adapter, on a JSONL dataset: token-weighted mean loss
// over every example (HF shifted cross-entropy). Used by `onnxlora eval`.
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Run;

public sealed record DatasetEvaluation(double Loss, int Examples, long Tokens)
{
    public static DatasetEvaluation Run(string model, string? adapterDir, string data, int maxSeqLen, int batchSize, string? chatTemplate, RuntimeOptions runtime)
    {
        using var source = ModelSource.Resolve(model);
        var tokenizer = TextTokenizer.Load(source.OnnxDir);
        var raw = JsonlDatasetReader.ReadFile(data);
        var chat = raw.Any(r => r.Format == DatasetFormat.Messages)
            ? new ChatTokenizer(ChatTemplateRenderer.ForModel(source.OnnxDir, chatTemplate), tokenizer)
            : null;
        var dataset = new ExampleTokenizer(tokenizer, maxSeqLen, chat).TokenizeAll(raw);
        if (dataset.Count == 0)
        {
            throw new InvalidDataException($"{data}: no usable example: {dataset.EmptyCount} empty, {dataset.NoCountedTokenCount} with no counted token");
        }
        var adapter = adapterDir is null ? null : PeftAdapter.Load(adapterDir);
        var work = Path.Combine(Path.GetTempPath(), "onnxlora-eval-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var graph = TrainingGraph.Build(Onnx.IO.ModelReader.Load(source.ModelPath),
                new TrainingGraphOptions { Lora = adapter?.Settings, Training = false, Device = runtime.Device });
            adapter?.CheckAgainst(graph.Targets, adapterDir!);
            var path = Path.Combine(work, TrainingArtifacts.EvalModel);
            ArtifactWriter.Save(graph.Model, path);
            var values = graph.Parameters.ToDictionary(p => p.Name, p => adapter!.Tensors[p.Name].Data);
            long padId = tokenizer.PadId ?? tokenizer.EosId ?? 0;
            using var evaluator = new Evaluator(path, graph.Parameters, dataset.Examples, padId, batchSize, runtime);
            return new DatasetEvaluation(evaluator.Loss(values), dataset.Count, dataset.CountedTokens);
        }
        finally
        {
            Models.AtomicFolder.TryDelete(work);
        }
    }
}
