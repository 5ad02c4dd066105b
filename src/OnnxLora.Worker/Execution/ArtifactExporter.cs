// Turns a finished run folder into the artifacts a job asked for: the adapter (tar.gz, plus its raw
// safetensors), the merged model (library fold into a copy, archived as tar.gz or zip) and the metrics.
// Every file is published atomically and durably; the manifest goes last, so its presence means all are there.
using System.Formats.Tar;
using System.IO.Compression;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training;
using OnnxLora.Training.Run;
using OnnxLora.Worker.Spec;

namespace OnnxLora.Worker.Execution;

public static class ArtifactExporter
{
    public static IReadOnlyDictionary<string, string> Export(JobSpec spec, JobFolders folders)
    {
        Directory.CreateDirectory(folders.ArtifactsDir);
        var files = new Dictionary<string, string>();
        var adapterDir = Path.Combine(folders.RunDir, Trainer.AdapterFolder);
        if (spec.Outputs.Contains("adapter"))
        {
            Archive(adapterDir, Path.Combine(folders.ArtifactsDir, "adapter.tar.gz"), "tar.gz");
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

    private static void Archive(string dir, string target, string format) => DurableFile.Write(target, s =>
    {
        if (format == "zip")
        {
            ZipFile.CreateFromDirectory(dir, s, CompressionLevel.Fastest, includeBaseDirectory: false);
            return;
        }
        using var gz = new GZipStream(s, CompressionLevel.Fastest, leaveOpen: true);
        TarFile.CreateFromDirectory(dir, gz, includeBaseDirectory: false);
    });
}
