// The Jinja engine on the constructs HF chat templates use, each against what Jinja2 with transformers' settings
// (trim_blocks, lstrip_blocks, Python str methods, transformers' tojson) produces for it.
using OnnxLora.Models.Chat.Jinja;

namespace OnnxLora.Models.Tests.Chat;

public sealed class JinjaTemplateTests
{
    private static string Render(string template, object? messages = null, params (string Name, object? Value)[] vars)
    {
        var d = new Dictionary<string, object?> { ["messages"] = messages ?? new List<object?>() };
        foreach (var (name, value) in vars)
        {
            d[name] = value;
        }
        return JinjaTemplate.Parse(template).Render(d);
    }

    private static Dictionary<string, object?> Msg(string role, string content) => new() { ["role"] = role, ["content"] = content };

    [Theory]
    [InlineData("{{ '\\tx\\n'.lstrip('\\n') }}", "\tx\n")]          // Python: only the given characters
    [InlineData("{{ 'xxay'.rstrip('y') }}", "xxa")]
    [InlineData("{{ 'aXa'.strip('a') }}", "X")]
    [InlineData("{{ '  a b  '.strip() }}|{{ ' a '.lstrip() }}|", "a b|a |")]
    [InlineData("{{ 'a</think>b</think>c'.split('</think>')[-1] }}", "c")]
    [InlineData("{{ ' a  b '.split() | length }}", "2")]
    [InlineData("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }}", "True True")]
    [InlineData("{{ 'Hello'.upper() }}{{ 'Hello' | lower }}{{ 'hello world' | title }}", "HELLOhelloHello World")]
    [InlineData("{{ 'a-b-c'.replace('-', '+', 1) }}{{ 'aa'.replace('a', 'b', count=1) }}{{ 'ab'.replace('', '_') }}", "a+b-cba_a_b_")]
    [InlineData("|{{ ' 1 2 3 '.split(none, 1) | join(',') }}|", "|1,2 3 |")]
    public void StringMethodsFollowPython(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ [1, 2, 3][::-1] }}", "[3, 2, 1]")]
    [InlineData("{{ [1, 2, 3][1:] }}{{ 'abcd'[1:3] }}{{ [1, 2, 3][-1] }}", "[2, 3]bc3")]
    [InlineData("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }}", "3 -4 1 3.5 8")]
    [InlineData("{{ 1 ~ 'a' ~ none }}", "1aNone")]
    [InlineData("{{ true }} {{ none }} {{ 1.0 }} {{ {'a': [1, 'b']} }}", "True None 1.0 {'a': [1, 'b']}")]
    [InlineData("{{ 'yes' if 1 > 2 else 'no' }}{{ 'x' if false }}", "no")]
    [InlineData("{{ 'b' in 'abc' }} {{ 2 not in [1, 3] }} {{ 'k' in {'k': 1} }}", "True True True")]
    public void ExpressionsFollowPython(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ x is defined }} {{ y is not defined }} {{ none is none }} {{ 'a' is string }}", "True True True True")]
    [InlineData("{{ 3 is odd }} {{ 4 is divisibleby 2 }} {{ [1] is iterable }} {{ {} is mapping }}", "True True True True")]
    [InlineData("{{ [3, 1, 2] | sort | join(',') }} {{ [1, 1, 2] | unique | list | length }}", "1,2,3 2")]
    [InlineData("{{ [1, 2] | first }}{{ [1, 2] | last }}{{ undefined_thing | default('d') }}", "12d")]
    [InlineData("{{ ' x ' | trim }}|{{ 'ab' | reverse }}|{{ 3.7 | int }}|{{ '2' | int + 1 }}", "x|ba|3|3")]
    [InlineData("{{ {'b': 1, 'a': 2} | dictsort }}", "[['a', 2], ['b', 1]]")]
    [InlineData("{{ {'b': 1, 'a': 2} | dictsort(by='value', reverse=true) }}", "[['a', 2], ['b', 1]]")]
    [InlineData("{{ ['b', 'C', 'a'] | sort }} {{ ['b', 'C', 'a'] | sort(case_sensitive=true) }}", "['a', 'b', 'C'] ['C', 'a', 'b']")]
    [InlineData("{{ [1, True, 0] | sort(reverse=true) }} {{ +true }} {{ 1 in [True] }}", "[1, True, 0] 1 True")]
    [InlineData("{% set a, b = 1, 2 %}{% set (c, d) = [3, 4] %}{{ a }}{{ b }}{{ c }}{{ d }}{{ m.0.1 }}", "12347")]
    public void TestsAndFiltersFollowJinja(string template, string expected) =>
        Assert.Equal(expected, Render(template, null, ("x", 1L), ("m", new List<object?> { new List<object?> { 6L, 7L } })));

    [Fact]
    public void ToJsonIsPythonJsonDumpsWithoutAsciiEscaping()
    {
        var tool = new Dictionary<string, object?>
        {
            ["name"] = "get_weather",
            ["parameters"] = new Dictionary<string, object?> { ["city"] = "Zürich", ["days"] = 3L, ["ok"] = true, ["x"] = null },
        };
        Assert.Equal("""{"name": "get_weather", "parameters": {"city": "Zürich", "days": 3, "ok": true, "x": null}}""",
            Render("{{ t | tojson }}", null, ("t", tool)));
        Assert.Equal("{\n  \"a\": [\n    1,\n    2\n  ]\n}",
            Render("{{ t | tojson(indent=2) }}", null, ("t", new Dictionary<string, object?> { ["a"] = new List<object?> { 1L, 2L } })));
    }

    [Fact]
    public void TrimBlocksAndLstripBlocksAreOn()
    {
        // Block tags on their own lines leave no blank lines or indentation behind; {{ }} keeps its newline.
        string template = "{% for m in messages %}\n    {% if m.role == 'user' %}\nU:{{ m.content }}\n    {% endif %}\n{% endfor %}";
        Assert.Equal("U:a\nU:b\n", Render(template, new List<object?> { Msg("user", "a"), Msg("user", "b") }));
    }

    [Fact]
    public void WhitespaceControlMarkersStripAroundTags()
    {
        Assert.Equal("ab", Render("a  \n  {%- if true -%}  \n  b{% endif %}"));
        Assert.Equal("a\n  b", Render("a\n  {%+ if true %}b{% endif %}"));
        Assert.Equal("x\ny", Render("x\n{# note #}\ny"));
    }

    [Fact]
    public void NamespaceCarriesValuesOutOfLoopsButSetDoesNot()
    {
        string template = "{% set ns = namespace(last=-1) %}{% set plain = 'outer' %}" +
            "{% for m in messages %}{% if m.role == 'user' %}{% set ns.last = loop.index0 %}{% set plain = 'inner' %}{% endif %}{% endfor %}" +
            "{{ ns.last }} {{ plain }}";
        var messages = new List<object?> { Msg("user", "a"), Msg("assistant", "b"), Msg("user", "c") };
        Assert.Equal("2 outer", Render(template, messages));
    }

    [Fact]
    public void SetInsideIfIsVisibleInTheSameLoopIteration()
    {
        // Qwen3's template sets content inside an if and reads it after; if blocks have no scope of their own.
        string template = "{% for m in messages %}{% set c = m.content %}{% if '</think>' in c %}{% set c = c.split('</think>')[-1].lstrip('\\n') %}{% endif %}[{{ c }}]{% endfor %}";
        Assert.Equal("[x][answer]", Render(template, new List<object?> { Msg("user", "x"), Msg("assistant", "<think>r</think>\n\nanswer") }));
    }

    [Fact]
    public void LoopVariableAndLoopFilterAndElse()
    {
        Assert.Equal("1/3F 2/3 3/3L", Render("{% for x in [1, 2, 3] %}{{ loop.index }}/{{ loop.length }}{{ 'F' if loop.first }}{{ 'L' if loop.last }}{{ ' ' if not loop.last }}{% endfor %}"));
        Assert.Equal("2,4,", Render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }},{% endfor %}"));
        Assert.Equal("empty", Render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        Assert.Equal("1", Render("{% for x in [1, 2, 3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
        Assert.Equal("a=1;b=2;", Render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", null,
            ("d", new Dictionary<string, object?> { ["a"] = 1L, ["b"] = 2L })));
    }

    [Fact]
    public void MacrosTakeArgumentsAndDefaults()
    {
        Assert.Equal("<a:1><b:x>", Render("{% macro tag(n, v='x') %}<{{ n }}:{{ v }}>{% endmacro %}{{ tag('a', 1) }}{{ tag('b') }}"));
    }

    [Fact]
    public void CallBlocksAndArgumentSplatsWork()
    {
        Assert.Equal("[inner]", Render("{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}"));
        Assert.Equal("1-2", Render("{% macro f(a, b) %}{{ a }}-{{ b }}{% endmacro %}{{ f(*[1, 2]) }}"));
        Assert.Equal("x=3", Render("{% macro g(x) %}x={{ x }}{% endmacro %}{{ g(**{'x': 3}) }}"));
    }

    [Fact]
    public void OneTrailingNewlineOfTheTemplateIsNotOutput()
    {
        // Jinja2's keep_trailing_newline=False.
        Assert.Equal("a", Render("a\n"));
        Assert.Equal("a\n", Render("a\n\n"));
    }

    [Fact]
    public void ToJsonTakesTransformersOptions()
    {
        var d = new Dictionary<string, object?> { ["b"] = new List<object?> { 2L, 3L }, ["a"] = "é" };
        Assert.Equal("""{"b":[2,3],"a":"é"}""", Render("{{ d | tojson(separators=(',', ':')) }}", null, ("d", d)));
        Assert.Equal("""{"a": "\u00e9", "b": [2, 3]}""", Render("{{ d | tojson(ensure_ascii=true, sort_keys=true) }}", null, ("d", d)));
    }

    [Fact]
    public void RaiseExceptionStopsWithTheTemplatesMessage()
    {
        var e = Assert.Throws<JinjaException>(() => Render("{{ raise_exception('Conversation roles must alternate') }}"));
        Assert.True(e.IsRaisedByTemplate);
        Assert.Contains("Conversation roles must alternate", e.Message);
    }

    [Fact]
    public void GenerationBlocksReportTheirOutputRanges()
    {
        var t = JinjaTemplate.Parse("A{% generation %}BC{% endgeneration %}D{% generation %}E{% endgeneration %}");
        Assert.True(t.HasGenerationBlocks);
        var r = t.RenderWithSpans(new Dictionary<string, object?>());
        Assert.Equal("ABCDE", r.Text);
        Assert.Equal(["BC", "E"], r.GenerationSpans.Select(s => r.Text[s]));
    }

    [Fact]
    public void StrftimeNowFormatsTodaysDate()
    {
        Assert.Equal(DateTime.Now.ToString("dd MMM yyyy", System.Globalization.CultureInfo.InvariantCulture),
            Render("{{ strftime_now('%d %b %Y') }}"));
    }

    [Theory]
    [InlineData("line1\n{{ x | nosuchfilter }}", "chat template line 2: unknown filter 'nosuchfilter'")]
    [InlineData("{% if x %}\n\nno end", "chat template line 3: missing '{% elif or else or endif %}' before the end of the template ('{% if %}' on line 1 is not closed)")]
    [InlineData("{{ x + }}", "chat template line 1: unexpected '}}' in an expression")]
    [InlineData("{% frobnicate %}", "chat template line 1: unknown statement 'frobnicate'")]
    [InlineData("{{ 'a' + 1 }}", "chat template line 1: unsupported operand types for +: str and int")]
    public void ErrorsNameTheTemplateLine(string template, string message) =>
        Assert.Equal(message, Assert.Throws<JinjaException>(() => Render(template, null, ("x", 1L))).Message);
}
