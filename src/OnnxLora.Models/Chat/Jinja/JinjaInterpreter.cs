// Walks a parsed template and writes its output, with Jinja2's scoping (a for loop has its own scope; if does
// not; a macro sees the template's top level and its arguments) and the loop variable. It records the output
// ranges written inside {% generation %} blocks. Filters, tests, methods and globals live in JinjaBuiltins.
using System.Text;

namespace OnnxLora.Models.Chat.Jinja;

internal sealed class JinjaInterpreter
{
    private const int MaxCallDepth = 200;

    private readonly Scope _root;
    private readonly List<(int Start, int End)> _generation = [];
    private StringBuilder _out = new();
    private int _depth;

    public JinjaInterpreter(Dictionary<string, object?> globals)
    {
        _root = new Scope(null);
        foreach (var kv in globals)
        {
            _root.Vars[kv.Key] = kv.Value;
        }
    }

    public IReadOnlyList<(int Start, int End)> GenerationSpans => _generation;

    public string Run(List<Node> nodes)
    {
        Exec(nodes, _root);
        return _out.ToString();
    }

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    private sealed class Scope(Scope? parent)
    {
        public Dictionary<string, object?> Vars { get; } = new(StringComparer.Ordinal);

        public Scope? Parent { get; } = parent;

        public bool TryGet(string name, out object? value)
        {
            for (Scope? s = this; s is not null; s = s.Parent)
            {
                if (s.Vars.TryGetValue(name, out value))
                {
                    return true;
                }
            }
            value = null;
            return false;
        }
    }

    private Flow Exec(List<Node> nodes, Scope scope)
    {
        foreach (Node n in nodes)
        {
            Flow f = Exec(n, scope);
            if (f != Flow.Normal)
            {
                return f;
            }
        }
        return Flow.Normal;
    }

    private Flow Exec(Node node, Scope scope)
    {
        switch (node)
        {
            case TextNode t:
                _out.Append(t.Text);
                return Flow.Normal;
            case OutputNode o:
                _out.Append(JinjaValues.Str(Eval(o.Value, scope)));
                return Flow.Normal;
            case IfNode i:
                return Exec(JinjaValues.IsTruthy(Eval(i.Test, scope)) ? i.Body : i.Else, scope);
            case ForNode f:
                return ExecFor(f, scope);
            case SetNode s:
                ExecSet(s, scope);
                return Flow.Normal;
            case SetBlockNode sb:
                scope.Vars[sb.Target] = Capture(sb.Body, scope);
                return Flow.Normal;
            case MacroNode m:
                scope.Vars[m.Name] = MakeMacro(m);
                return Flow.Normal;
            case GenerationNode g:
            {
                int start = _out.Length;
                Flow flow = Exec(g.Body, scope);
                _generation.Add((start, _out.Length));
                return flow;
            }
            case FilterBlockNode fb:
            {
                string text = Capture(fb.Body, scope);
                var args = fb.Args.Select(a => Eval(a, scope)).ToList();
                _out.Append(JinjaValues.Str(JinjaBuiltins.Filter(fb.Filter, text, args, [], fb.Line, this)));
                return Flow.Normal;
            }
            case CallBlockNode cb:
            {
                JinjaFunction caller = (args, kwargs) =>
                {
                    var inner = new Scope(scope);
                    BindParameters(inner, cb.Parameters, args, kwargs, scope);
                    return Capture(cb.Body, inner);
                };
                _out.Append(JinjaValues.Str(Call(cb.Call, scope, caller)));
                return Flow.Normal;
            }
            case LoopControlNode lc:
                return lc.IsBreak ? Flow.Break : Flow.Continue;
            default:
                throw new JinjaException(node.Line, $"cannot run {node.GetType().Name}");
        }
    }

    private string Capture(List<Node> body, Scope scope)
    {
        var saved = _out;
        _out = new StringBuilder();
        try
        {
            Exec(body, scope);
            return _out.ToString();
        }
        finally
        {
            _out = saved;
        }
    }

    private void ExecSet(SetNode s, Scope scope)
    {
        object? value = Eval(s.Value, scope);
        if (s.Attribute is { } attr)
        {
            if (!scope.TryGet(s.Targets[0], out var target) || target is not JinjaNamespace ns)
            {
                throw new JinjaException(s.Line, $"cannot set attribute '{attr}' on '{s.Targets[0]}': only a namespace() can be assigned to");
            }
            ns.Values[attr] = value;
            return;
        }
        if (s.Targets.Count == 1)
        {
            scope.Vars[s.Targets[0]] = value;
            return;
        }
        var items = JinjaValues.Iterate(value, s.Line);
        if (items.Count != s.Targets.Count)
        {
            throw new JinjaException(s.Line, $"cannot unpack {items.Count} values into {s.Targets.Count} names");
        }
        for (int i = 0; i < items.Count; i++)
        {
            scope.Vars[s.Targets[i]] = items[i];
        }
    }

    private Flow ExecFor(ForNode f, Scope scope)
    {
        var source = JinjaValues.Iterate(Eval(f.Iterable, scope), f.Line);
        var loopScope = new Scope(scope);
        var items = new List<object?>();
        foreach (object? item in source)
        {
            if (f.Filter is null)
            {
                items.Add(item);
                continue;
            }
            Bind(loopScope, f.Targets, item, f.Line);
            if (JinjaValues.IsTruthy(Eval(f.Filter, loopScope)))
            {
                items.Add(item);
            }
        }
        if (items.Count == 0)
        {
            return Exec(f.Else, scope);
        }
        for (int i = 0; i < items.Count; i++)
        {
            Bind(loopScope, f.Targets, items[i], f.Line);
            loopScope.Vars["loop"] = LoopVariable(items, i);
            Flow flow = Exec(f.Body, loopScope);
            if (flow == Flow.Break)
            {
                break;
            }
        }
        return Flow.Normal;
    }

    private static void Bind(Scope scope, List<string> targets, object? item, int line)
    {
        if (targets.Count == 1)
        {
            scope.Vars[targets[0]] = item;
            return;
        }
        var parts = JinjaValues.Iterate(item, line);
        if (parts.Count != targets.Count)
        {
            throw new JinjaException(line, $"cannot unpack {parts.Count} values into {targets.Count} loop variables");
        }
        for (int i = 0; i < parts.Count; i++)
        {
            scope.Vars[targets[i]] = parts[i];
        }
    }

    private static Dictionary<string, object?> LoopVariable(List<object?> items, int i) => new(StringComparer.Ordinal)
    {
        ["index"] = (long)(i + 1),
        ["index0"] = (long)i,
        ["revindex"] = (long)(items.Count - i),
        ["revindex0"] = (long)(items.Count - i - 1),
        ["first"] = i == 0,
        ["last"] = i == items.Count - 1,
        ["length"] = (long)items.Count,
        ["previtem"] = i > 0 ? items[i - 1] : Undefined.Instance,
        ["nextitem"] = i + 1 < items.Count ? items[i + 1] : Undefined.Instance,
        ["cycle"] = (JinjaFunction)((args, _) => args.Count == 0 ? Undefined.Instance : args[i % args.Count]),
    };

    private JinjaFunction MakeMacro(MacroNode m) => (args, kwargs) =>
    {
        if (++_depth > MaxCallDepth)
        {
            throw new JinjaException(m.Line, $"macro '{m.Name}' recursed more than {MaxCallDepth} times");
        }
        try
        {
            var scope = new Scope(_root);
            BindParameters(scope, m.Parameters, args, kwargs, _root);
            scope.Vars["varargs"] = args.Skip(m.Parameters.Count).ToList();
            scope.Vars["kwargs"] = kwargs.Where(kv => kv.Key != "caller" && m.Parameters.All(p => p.Name != kv.Key))
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            if (kwargs.TryGetValue("caller", out var caller))
            {
                scope.Vars["caller"] = caller;
            }
            return Capture(m.Body, scope);
        }
        finally
        {
            _depth--;
        }
    };

    private void BindParameters(Scope scope, List<(string Name, Expr? Default)> parameters, List<object?> args,
        Dictionary<string, object?> kwargs, Scope defaults)
    {
        for (int i = 0; i < parameters.Count; i++)
        {
            var (name, def) = parameters[i];
            scope.Vars[name] = i < args.Count ? args[i]
                : kwargs.TryGetValue(name, out var kv) ? kv
                : def is not null ? Eval(def, defaults)
                : Undefined.Instance;
        }
    }

    // ---- expressions ----

    private object? Eval(Expr e, Scope scope)
    {
        switch (e)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                return scope.TryGet(n.Name, out var v) ? v : JinjaBuiltins.Global(n.Name, this);
            case ListExpr l:
                return l.Items.Select(x => Eval(x, scope)).ToList();
            case DictExpr d:
            {
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, val) in d.Items)
                {
                    dict[JinjaValues.Str(Eval(k, scope))] = Eval(val, scope);
                }
                return dict;
            }
            case AttributeExpr a:
                return JinjaBuiltins.GetAttribute(Eval(a.Target, scope), a.Name, a.Line);
            case IndexExpr i:
            {
                object? target = Eval(i.Target, scope);
                object? index = Eval(i.Index, scope);
                object? got = JinjaValues.Index(target, index);
                return got is Undefined && index is string name && target is not Dictionary<string, object?>
                    ? JinjaBuiltins.GetAttribute(target, name, i.Line)
                    : got;
            }
            case SliceExpr s:
                return JinjaValues.Slice(Eval(s.Target, scope), OptInt(s.Start, scope), OptInt(s.Stop, scope), OptInt(s.Step, scope), s.Line);
            case CallExpr c:
                return Call(c, scope);
            case FilterExpr f:
                return JinjaBuiltins.Filter(f.Name, Eval(f.Value, scope), f.Args.Select(x => Eval(x, scope)).ToList(),
                    f.Kwargs.ToDictionary(k => k.Name, k => Eval(k.Value, scope), StringComparer.Ordinal), f.Line, this);
            case TestExpr t:
            {
                bool result = JinjaBuiltins.Test(t.Name, t.Value is NameExpr or AttributeExpr or IndexExpr ? EvalLenient(t.Value, scope) : Eval(t.Value, scope),
                    t.Args.Select(x => Eval(x, scope)).ToList(), t.Line, this);
                return t.Negated ? !result : result;
            }
            case UnaryExpr u:
            {
                object? operand = Eval(u.Operand, scope);
                return u.Op switch
                {
                    "not" => !JinjaValues.IsTruthy(operand),
                    "-" => operand switch
                    {
                        long x => (object)(-x),
                        double x => -x,
                        bool b => b ? -1L : 0L,
                        _ => throw new JinjaException(u.Line, $"bad operand for unary -: {JinjaValues.TypeName(operand)}"),
                    },
                    _ => operand is bool pb ? (pb ? 1L : 0L) : operand, // unary + of a bool is an int, as in Python
                };
            }
            case BinaryExpr b:
                return EvalBinary(b, scope);
            case CompareExpr c:
            {
                object? left = Eval(c.First, scope);
                foreach (var (op, operandExpr) in c.Rest)
                {
                    object? right = Eval(operandExpr, scope);
                    if (!JinjaBuiltins.CompareOp(op, left, right, c.Line))
                    {
                        return false;
                    }
                    left = right;
                }
                return true;
            }
            case ConditionalExpr c:
                return JinjaValues.IsTruthy(Eval(c.Test, scope)) ? Eval(c.Then, scope)
                    : c.Else is null ? Undefined.Instance : Eval(c.Else, scope);
            default:
                throw new JinjaException(e.Line, $"cannot evaluate {e.GetType().Name}");
        }
    }

    /// <summary>Evaluates for "is defined"-style tests: a missing name or attribute is Undefined, never an error.</summary>
    private object? EvalLenient(Expr e, Scope scope) => e switch
    {
        NameExpr n => scope.TryGet(n.Name, out var v) ? v : JinjaBuiltins.IsGlobal(n.Name) ? JinjaBuiltins.Global(n.Name, this) : Undefined.Instance,
        _ => Eval(e, scope),
    };

    private long? OptInt(Expr? e, Scope scope)
    {
        if (e is null)
        {
            return null;
        }
        object? v = Eval(e, scope);
        return v switch
        {
            null or Undefined => null,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw new JinjaException(e.Line, $"slice indices must be integers, got {JinjaValues.TypeName(v)}"),
        };
    }

    private object? Call(CallExpr c, Scope scope, JinjaFunction? caller = null)
    {
        object? callee = Eval(c.Callee, scope);
        var args = new List<object?>();
        foreach (Expr a in c.Args)
        {
            if (a is UnaryExpr { Op: "*" } splat)
            {
                args.AddRange(JinjaValues.Iterate(Eval(splat.Operand, scope), c.Line));
            }
            else
            {
                args.Add(Eval(a, scope));
            }
        }
        var kwargs = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, valueExpr) in c.Kwargs)
        {
            object? value = Eval(valueExpr, scope);
            if (name == "**" && value is Dictionary<string, object?> spread)
            {
                foreach (var kv in spread)
                {
                    kwargs[kv.Key] = kv.Value;
                }
            }
            else
            {
                kwargs[name] = value;
            }
        }
        if (caller is not null)
        {
            kwargs["caller"] = caller;
        }
        if (callee is JinjaFunction fn)
        {
            try
            {
                return fn(args, kwargs);
            }
            catch (JinjaArgumentException ex)
            {
                throw new JinjaException(c.Line, ex.Message);
            }
            catch (JinjaRaisedException ex)
            {
                throw new JinjaException(c.Line, ex.Message, raisedByTemplate: true);
            }
        }
        string what = c.Callee switch
        {
            NameExpr n => $"'{n.Name}'",
            AttributeExpr a => $"'{a.Name}'",
            _ => "value",
        };
        throw new JinjaException(c.Line, callee is Undefined ? $"{what} is undefined" : $"{what} ({JinjaValues.TypeName(callee)}) is not callable");
    }

    private object? EvalBinary(BinaryExpr b, Scope scope)
    {
        if (b.Op == "and")
        {
            object? l = Eval(b.Left, scope);
            return JinjaValues.IsTruthy(l) ? Eval(b.Right, scope) : l;
        }
        if (b.Op == "or")
        {
            object? l = Eval(b.Left, scope);
            return JinjaValues.IsTruthy(l) ? l : Eval(b.Right, scope);
        }
        object? left = Eval(b.Left, scope);
        object? right = Eval(b.Right, scope);
        return JinjaBuiltins.Arithmetic(b.Op, left, right, b.Line);
    }
}
