// A parsed Jinja template, rendered the way transformers renders chat templates (trim_blocks, lstrip_blocks,
// Python string semantics, transformers' tojson, raise_exception, strftime_now, {% generation %} spans).
// It knows nothing of chats or tokens; ChatTemplateRenderer supplies messages and special tokens.
using System.Collections;
using System.Text.Json;

namespace OnnxLora.Models.Chat.Jinja;

public sealed class JinjaTemplate
{
    private readonly List<Node> _nodes;

    private JinjaTemplate(string source, List<Node> nodes)
    {
        Source = source;
        _nodes = nodes;
        HasGenerationBlocks = Contains(nodes, n => n is GenerationNode);
    }

    public string Source { get; }

    /// <summary>Whether the template marks assistant output with {% generation %} ... {% endgeneration %}.</summary>
    public bool HasGenerationBlocks { get; }

    /// <summary>Parses <paramref name="source"/>; a syntax error throws JinjaException naming the line.</summary>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaTemplate(source, JinjaParser.Parse(source));
    }

    /// <summary>Renders with <paramref name="variables"/> (strings, numbers, bools, null, lists, dictionaries, JsonElement).</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables) => RenderWithSpans(variables).Text;

    /// <summary>Renders and reports the character ranges written inside {% generation %} blocks.</summary>
    public JinjaRendering RenderWithSpans(IReadOnlyDictionary<string, object?> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        var globals = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var kv in variables)
        {
            globals[kv.Key] = ToValue(kv.Value);
        }
        var interpreter = new JinjaInterpreter(globals);
        string text = interpreter.Run(_nodes);
        return new JinjaRendering(text, interpreter.GenerationSpans.Select(s => new Range(s.Start, s.End)).ToList());
    }

    /// <summary>Converts .NET and System.Text.Json values to the engine's value model.</summary>
    internal static object? ToValue(object? v) => v switch
    {
        null => null,
        string or bool or long or double => v,
        int i => (long)i,
        float f => (double)f,
        JsonElement e => FromJson(e),
        IDictionary<string, object?> d => d.ToDictionary(kv => kv.Key, kv => ToValue(kv.Value), StringComparer.Ordinal),
        IDictionary d => d.Keys.Cast<object>().ToDictionary(k => k.ToString()!, k => ToValue(d[k]), StringComparer.Ordinal),
        IEnumerable e => e.Cast<object?>().Select(ToValue).ToList(),
        _ => throw new ArgumentException($"a template variable cannot be a {v.GetType().Name}"),
    };

    private static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long l) ? (object)l : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => e.EnumerateObject().ToDictionary(p => p.Name, p => FromJson(p.Value), StringComparer.Ordinal),
        _ => null,
    };

    private static bool Contains(List<Node> nodes, Func<Node, bool> match) => nodes.Any(n => match(n) || n switch
    {
        IfNode i => Contains(i.Body, match) || Contains(i.Else, match),
        ForNode f => Contains(f.Body, match) || Contains(f.Else, match),
        SetBlockNode s => Contains(s.Body, match),
        MacroNode m => Contains(m.Body, match),
        GenerationNode g => Contains(g.Body, match),
        FilterBlockNode fb => Contains(fb.Body, match),
        _ => false,
    });
}
