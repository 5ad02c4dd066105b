// Named Jinja layouts for models whose folder has no chat template, chosen only by an explicit --chat-template
// (chatml, llama2, llama3, zephyr, plain). They are ordinary templates run by the same engine; BOS is written by
// the template where the layout has one, as real templates do. Never picked automatically for a model that has its own.
namespace OnnxLora.Models.Chat;

public static class BuiltinChatTemplates
{
    public static readonly IReadOnlyList<string> Names = ["chatml", "llama2", "llama3", "zephyr", "plain"];

    /// <summary>The Jinja source of a layout, or null when <paramref name="name"/> is not one of <see cref="Names"/>.</summary>
    public static string? Get(string name) => name.Trim().ToLowerInvariant() switch
    {
        "chatml" =>
            "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}{% endfor %}" +
            "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
        "llama2" =>
            "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
            "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
            "{% for m in loop_messages %}{% if loop.index0 == 0 and system_message != false %}" +
            "{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + m['content'] %}{% else %}{% set content = m['content'] %}{% endif %}" +
            "{% if m['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
            "{% else %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
        "llama3" =>
            "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
            "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
        "zephyr" =>
            "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + eos_token + '\n' }}{% endfor %}" +
            "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}",
        "plain" =>
            "{{ bos_token }}{% for m in messages %}{{ '### ' + m['role'] | capitalize + '\n' + m['content'] }}" +
            "{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\n\n' }}{% endfor %}" +
            "{% if add_generation_prompt %}{{ '### Assistant\n' }}{% endif %}",
        _ => null,
    };
}
