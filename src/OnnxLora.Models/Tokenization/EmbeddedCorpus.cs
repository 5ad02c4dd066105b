// A small English text, written for this project, that the embedded tokenizer's merges are learned from.
// It is data only: plain prose, dialogue, pirate speak and chat-shaped lines, not a benchmark or a dataset.
namespace OnnxLora.Models.Tokenization;

internal static class EmbeddedCorpus
{
    public const string Text = """
        The ship sailed out of the harbor at dawn, and the crew sang as they pulled the ropes.
        Arr, matey! Ye be wantin' the treasure? Then ye'd best be learnin' the way of the sea.
        The captain said: "We sail west until we find the island, and then we dig."
        Ahoy there! Hoist the sails, and keep a weather eye on the horizon.
        Shiver me timbers, the parrot be talkin' again. What be it sayin' now?
        "Pieces of eight! Pieces of eight!" cried the parrot from the captain's shoulder.
        There is a map in the chest, and the chest is in the hold, and the hold is full of water.
        You are a helpful assistant. Answer the question in one short sentence.
        What is the capital of France? The capital of France is Paris.
        How many days are there in a week? There are seven days in a week.
        Please write a short story about a pirate who loves to read books.
        Once upon a time, there was a pirate named Anne who kept her books in a dry barrel.
        She read every night by the light of a lantern, while the waves rocked the ship.
        The other pirates laughed at first, but soon they asked her to read the stories aloud.
        This is the end of the story, and they all lived happily on the open sea.
        I think that the weather will be fine today, so we can go for a walk in the park.
        We have been working on this project for a long time, and it is nearly done.
        The model reads the text, predicts the next token, and learns from its mistakes.
        It was the first time that they had seen the sea, and they were very happy.
        Where is the treasure buried? It's under the old tree, near the rocks on the beach.
        Yo ho ho, and a bottle of rum! The sailors were singing songs all through the night.
        Avast, ye scallywags! Swab the deck and mind the cannons, or ye'll walk the plank.
        The number of the day is 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100 and 2024.
        user: Tell me about the ocean. assistant: The ocean covers most of the planet.
        The old sailor told the children about storms, whales, and the stars that guide ships home.
        When the wind is strong, the sails fill and the ship moves quickly across the water.
        Fair winds and following seas, me hearties! We'll be rich before the moon is full.
        Thank you for your help. You're welcome, and have a wonderful day!
        Can you explain how a compass works? A compass needle points to the magnetic north.
        Learning something new every day makes life more interesting and more fun.
        The little boat was painted blue and white, and it had a small red flag.
        Dinner was fish and bread, and after dinner the crew played cards and told jokes.
        Don't worry, lad, there's always another island and another adventure waiting.
        """;
}
