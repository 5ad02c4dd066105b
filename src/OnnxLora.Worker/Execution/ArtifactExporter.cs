// Turns a finished run folder into the artifacts a job asked for: the adapter (tar.gz, plus its raw
// safetensors), the merged model (library fold into a copy, archived as tar.gz or zip) and the metrics.
// Every file is published atomically and durably; the manifest goes last, so its presence means all are there.
// The adapter's config and the merged model's metadata name the base model as the tenant named it, never by a
// path on this server (the importer records its source folder in the model's metadata).
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training;
using OnnxLora.Training.Run;
using OnnxLora.Worker.Spec;

namespace OnnxLora.Worker.Execution;

public static class ArtifactExporter
{
    public static IReadOnlyDictionary<string, string> Export(JobSpec spec, JobFolders folders, string modelName)
    {
        Directory.CreateDirectory(folders.ArtifactsDir);
        var files = new Dictionary<string, string>();
        var adapterDir = Path.Combine(folders.RunDir, Trainer.AdapterFolder);
        if (spec.Outputs.Contains("adapter"))
        {
            Archive(adapterDir, Path.Combine(folders.ArtifactsDir, "adapter.tar.gz"), "tar.gz",
                new Dictionary<string, byte[]> { [PeftAdapter.ConfigFile] = NamedConfig(Path.Combine(adapterDir, PeftAdapter.ConfigFile), modelName) });
            files["adapter"] = "adapter.tar.gz";
            DurableFile.Copy(Path.Combine(adapterDir, PeftAdapter.WeightsFile), Path.Combine(folders.ArtifactsDir, "adapter.safetensors"));
            files["adapter.safetensors"] = "adapter.safetensors";
        }
        if (spec.Outputs.Contains("merged"))
        {
            Models.AtomicFolder.TryDelete(folders.MergeDir);
            using (var source = ModelSource.Resolve(spec.Model!))
            {
                LoraFold.Merge(source.OnnxDir, PeftAdapter.Load(adapterDir), folders.MergeDir);
            }
            NameInsteadOfPaths(Models.GenAiFolder.Open(folders.MergeDir).DecoderPath, modelName);
            string file = "merged." + spec.MergedFormat;
            Archive(folders.MergeDir, Path.Combine(folders.ArtifactsDir, file), spec.MergedFormat);
            files["merged"] = file;
            Models.AtomicFolder.TryDelete(folders.MergeDir);
        }
        if (spec.Outputs.Contains("metrics"))
        {
            DurableFile.Copy(Path.Combine(folders.RunDir, Trainer.MetricsFile), Path.Combine(folders.ArtifactsDir, "metrics.jsonl"));
            files["metrics"] = "metrics.jsonl";
        }
        ArtifactCatalog.WriteManifest(folders.ArtifactsDir, files);
        return files;
    }

    /// <summary>Rewrites model metadata values that are absolute paths (onnxlora.source) to the model's name.</summary>
    private static void NameInsteadOfPaths(string modelPath, string modelName)
    {
        var model = OnnxLora.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath)); // weights are in the side file
        var paths = model.MetadataProps.Where(p => Path.IsPathRooted(p.Value)).ToList();
        if (paths.Count == 0)
        {
            return;
        }
        foreach (var p in paths)
        {
            p.Value = modelName;
        }
        DurableFile.Write(modelPath, s => Google.Protobuf.MessageExtensions.WriteTo(model, s));
    }

    /// <summary>adapter_config.json with base_model_name_or_path set to the model's name instead of its server path.</summary>
    private static byte[] NamedConfig(string configPath, string modelName)
    {
        var cfg = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        cfg["base_model_name_or_path"] = modelName;
        return System.Text.Encoding.UTF8.GetBytes(cfg.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Archives the files of <paramref name="dir"/> (one level), with <paramref name="replace"/>d contents where given.</summary>
    private static void Archive(string dir, string target, string format, IReadOnlyDictionary<string, byte[]>? replace = null) =>
        DurableFile.Write(target, s =>
        {
            if (format == "zip")
            {
                ZipFile.CreateFromDirectory(dir, s, CompressionLevel.Fastest, includeBaseDirectory: false);
                return;
            }
            using var gz = new GZipStream(s, CompressionLevel.Fastest, leaveOpen: true);
            if (replace is null)
            {
                TarFile.CreateFromDirectory(dir, gz, includeBaseDirectory: false);
                return;
            }
            using var tar = new TarWriter(gz, TarEntryFormat.Pax, leaveOpen: true);
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileName(file);
                if (replace.TryGetValue(name, out var bytes))
                {
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
                }
                else
                {
                    tar.WriteEntry(file, name);
                }
            }
        });
}
