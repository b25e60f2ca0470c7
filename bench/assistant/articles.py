# ruff: noqa: E501 - hand-written article text and page templates read best unwrapped
"""Hand-written main texts of the labelled extraction set: (title, [(kind, text), ...])."""

from __future__ import annotations

ARTICLES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "How lighthouses got their lenses",
        [
            (
                "p",
                "Before the nineteenth century, lighthouses burned wood, coal or oil behind simple reflectors, and most of the light was wasted into the sky.",
            ),
            (
                "p",
                "In 1822 the French physicist Augustin Fresnel presented a lens built from concentric rings of glass prisms. It was thinner and lighter than a solid lens and bent far more of the lamp's light into a horizontal beam.",
            ),
            ("h", "Orders of lenses"),
            (
                "p",
                "Fresnel lenses were sold in sizes called orders. A first-order lens stood taller than a person and was used on major coastal lights, while sixth-order lenses marked harbours and rivers.",
            ),
            (
                "p",
                "Many of the original lenses are still in service, although electric lamps replaced the oil burners during the twentieth century.",
            ),
        ],
    ),
    (
        "A beginner's guide to sourdough starters",
        [
            (
                "p",
                "A sourdough starter is a living culture of wild yeast and lactic acid bacteria kept in a mixture of flour and water.",
            ),
            ("h", "Starting from scratch"),
            (
                "p",
                "Mix equal weights of whole wheat flour and lukewarm water in a clean jar, cover it loosely and leave it at room temperature.",
            ),
            (
                "p",
                "Every day, discard half of the mixture and feed it with fresh flour and water. After about a week the starter should double in size within eight hours of feeding.",
            ),
            ("h", "Keeping it alive"),
            (
                "p",
                "A mature starter can live in the refrigerator and be fed once a week. Bring it back to room temperature and feed it twice before baking.",
            ),
        ],
    ),
    (
        "Why the city is planting micro forests",
        [
            (
                "p",
                "The council approved a plan on Tuesday to plant twelve micro forests on unused lots across the city over the next three years.",
            ),
            (
                "p",
                "Each forest will cover an area about the size of a tennis court and will be planted densely with native species, following a method developed by the Japanese botanist Akira Miyawaki.",
            ),
            (
                "p",
                "Supporters say the dense plantings grow quickly, cool the surrounding streets in summer and give birds and insects a place to live.",
            ),
            (
                "p",
                "Critics on the council questioned the cost of maintenance, which the parks department estimates at forty thousand dollars a year for the first three years.",
            ),
            (
                "p",
                "The first two forests will be planted in the spring near the river and next to the central library.",
            ),
        ],
    ),
    (
        "Understanding database indexes",
        [
            (
                "p",
                "An index is a separate data structure that lets a database find rows without scanning the whole table.",
            ),
            ("h", "B-tree indexes"),
            (
                "p",
                "Most relational databases store indexes as B-trees, balanced trees whose leaves hold the indexed values in sorted order together with pointers to the rows.",
            ),
            (
                "p",
                "Because the values are sorted, a B-tree index helps with equality lookups, range queries and sorting.",
            ),
            ("h", "The cost of an index"),
            (
                "p",
                "Every insert, update and delete must also update each index on the table, so an index that is never used only slows writes down and takes disk space.",
            ),
            (
                "p",
                "Check the query plan before and after adding an index to confirm that the database actually uses it.",
            ),
        ],
    ),
    (
        "The long migration of the arctic tern",
        [
            (
                "p",
                "The arctic tern makes the longest known migration of any animal, travelling from its breeding grounds in the Arctic to the edge of Antarctica and back every year.",
            ),
            (
                "p",
                "Tracking devices small enough to fit on the birds have shown that a single tern can fly more than seventy thousand kilometres in a year, following winding routes that take advantage of prevailing winds.",
            ),
            (
                "p",
                "Because the tern lives for thirty years or more, it may fly a distance equal to three trips to the Moon and back during its lifetime.",
            ),
            (
                "p",
                "The birds see two summers each year and more daylight than any other creature on Earth.",
            ),
        ],
    ),
    (
        "Repairing a dripping tap",
        [
            (
                "p",
                "A dripping tap wastes thousands of litres of water a year, and most drips can be fixed in under an hour with basic tools.",
            ),
            ("h", "What you need"),
            ("li", "An adjustable spanner"),
            ("li", "A flat-head screwdriver"),
            ("li", "A replacement washer or cartridge that matches your tap"),
            ("h", "Steps"),
            (
                "p",
                "Turn off the water supply under the sink and open the tap to drain the remaining water.",
            ),
            (
                "p",
                "Remove the handle and unscrew the valve with the spanner, then replace the worn washer or cartridge and reassemble the tap in reverse order.",
            ),
        ],
    ),
]
