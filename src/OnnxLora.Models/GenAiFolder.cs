// A model folder as a rewrite sees it (a GenAI/builder folder, or a torch.onnx/optimum export beside its HF
// config): find its decoder (genai_config.json's model.decoder.filename, else model.onnx, else the only .onnx
// file), read its graph, then write a new complete folder (new decoder + <decoder>.data, the source's companion
// files) published atomically: built in a temp folder beside the target and renamed over it, so a failure leaves
// the old target as it was. It does not change companion files; a caller that must (AdapterReadyModel) edits
// them in `finish`.
using OnnxLora.Onnx;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models;

public sealed class GenAiFolder
{
    /// <summary>GenAI's decoder file when genai_config.json names no other (model.decoder.filename).</summary>
    public const string DefaultDecoderFile = "model.onnx";

    public const string GenAiConfigFile = "genai_config.json";

    /// <summary>ORT multi-LoRA adapter files: values for one graph's LoRA inputs, never carried to a new model.</summary>
    public const string AdapterExtension = ".onnx_adapter";

    private GenAiFolder(string dir, string decoderFile)
    {
        Dir = dir;
        DecoderFile = decoderFile;
    }

    public string Dir { get; }

    /// <summary>The decoder's file name inside <see cref="Dir"/>; the written folder uses the same name.</summary>
    public string DecoderFile { get; }

    public string DecoderPath => Path.Combine(Dir, DecoderFile);

    /// <summary>Opens <paramref name="dir"/>; <paramref name="decoderFile"/> null means the folder's own (<see cref="DecoderFileOf"/>).</summary>
    public static GenAiFolder Open(string dir, string? decoderFile = null)
    {
        if (!Directory.Exists(dir))
        {
            throw new ModelFormatException($"{dir}: model folder not found");
        }
        decoderFile ??= DecoderFileOf(dir);
        CheckFileName(decoderFile);
        var full = Path.GetFullPath(dir);
        if (!File.Exists(Path.Combine(full, decoderFile)))
        {
            throw new ModelFormatException($"{dir}: no {decoderFile} (not an ONNX/GenAI model folder)");
        }
        return new GenAiFolder(full, decoderFile);
    }

    /// <summary>A model folder, or an .onnx file inside one (then that file is the decoder, whatever its name).</summary>
    public static GenAiFolder OpenPath(string path) =>
        File.Exists(path) && path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)
            ? Open(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileName(path))
            : Open(path);

    /// <summary>
    /// The decoder file of <paramref name="dir"/>: genai_config.json's model.decoder.filename (the builder's `filename`
    /// option), else model.onnx, else the folder's only .onnx file; several candidates and no config is an error listing them.
    /// </summary>
    public static string DecoderFileOf(string dir)
    {
        var config = Path.Combine(dir, GenAiConfigFile);
        if (File.Exists(config))
        {
            System.Text.Json.Nodes.JsonNode? root;
            try
            {
                root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config));
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new ModelFormatException($"{config}:{e.LineNumber + 1}: invalid JSON ({e.Message})");
            }
            if (root?["model"]?["decoder"]?["filename"] is System.Text.Json.Nodes.JsonValue name && name.TryGetValue<string>(out var file))
            {
                return file;
            }
        }
        if (File.Exists(Path.Combine(dir, DefaultDecoderFile)))
        {
            return DefaultDecoderFile;
        }
        var onnx = Directory.EnumerateFiles(dir, "*.onnx").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        return onnx.Count switch
        {
            1 => onnx[0],
            0 => throw new ModelFormatException($"{dir}: no {DefaultDecoderFile} (not an ONNX/GenAI model folder)"),
            _ => throw new ModelFormatException(
                $"{dir}: {onnx.Count} .onnx files ({string.Join(", ", onnx)}) and no {GenAiConfigFile} naming the decoder; pass the decoder's .onnx file itself"),
        };
    }

    /// <summary>The decoder graph; external weights stay memory-mapped in this folder until written.</summary>
    public Model LoadDecoder() => ModelReader.Load(DecoderPath);

    /// <summary>
    /// The copy rule. Every top-level file of the folder is copied (genai_config.json, config.json, tokenizer and
    /// chat-template files, other ONNX models such as a vision encoder with their data) except:
    /// the decoder and every name that starts with it (its side file under any suffix, stale copies, temp leftovers),
    /// every file the decoder's weights live in (whatever its name), and *.onnx_adapter files (made for this graph's
    /// LoRA inputs and these weights). Subfolders are not copied. Sorted by name.
    /// </summary>
    public IReadOnlyList<string> CompanionFiles()
    {
        var weightFiles = LoadDecoder().Graph.Initializers.Values.Select(i => i.Data).OfType<ExternalTensorData>()
            .Select(d => d.FilePath).ToHashSet(StringComparer.Ordinal);
        return Directory.EnumerateFiles(Dir)
            .Where(f =>
            {
                var name = Path.GetFileName(f);
                return !name.StartsWith(DecoderFile, StringComparison.Ordinal)
                    && !name.EndsWith(AdapterExtension, StringComparison.OrdinalIgnoreCase)
                    && !weightFiles.Contains(Path.GetFullPath(f));
            })
            .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Writes <paramref name="decoder"/> and this folder's <see cref="CompanionFiles"/> as the complete folder
    /// <paramref name="outDir"/>; <paramref name="finish"/> may edit the temp folder before it is published.
    /// </summary>
    public void Write(Model decoder, string outDir, Action<string>? finish = null)
    {
        var companions = CompanionFiles();
        Publish(outDir, DecoderFile, decoder, temp =>
        {
            foreach (var name in companions)
            {
                File.Copy(Path.Combine(Dir, name), Path.Combine(temp, name));
            }
            finish?.Invoke(temp);
        });
    }

    /// <summary>
    /// The one atomic "write a model folder": <paramref name="decoder"/> saved as <paramref name="decoderFile"/> with its
    /// weights in &lt;decoderFile&gt;.data inside a temp folder beside <paramref name="outDir"/>, then
    /// <paramref name="addFiles"/>(temp), then the temp folder renamed over <paramref name="outDir"/>. On any failure the
    /// temp folder is deleted and an existing <paramref name="outDir"/> is left as it was.
    /// </summary>
    public static void Publish(string outDir, string decoderFile, Model decoder, Action<string>? addFiles = null)
    {
        CheckFileName(decoderFile);
        var full = Path.GetFullPath(outDir);
        var temp = AtomicFolder.CreateTempBeside(full);
        try
        {
            ModelWriter.Save(decoder, Path.Combine(temp, decoderFile),
                new ExternalDataOptions { DataFileName = decoderFile + ".data", ReferenceFilesInOutputFolder = false });
            addFiles?.Invoke(temp);
            AtomicFolder.Replace(temp, full);
        }
        catch
        {
            AtomicFolder.TryDelete(temp);
            throw;
        }
    }

    private static void CheckFileName(string decoderFile)
    {
        if (string.IsNullOrWhiteSpace(decoderFile) || Path.GetFileName(decoderFile) != decoderFile || decoderFile is "." or "..")
        {
            throw new BadInputException($"decoder file '{decoderFile}' must be a file name inside the model folder, not a path");
        }
    }
}
