"""Text written for the accuracy benchmark, beside the seed articles in fixtures/.

``EXTRA_PROSE`` widens the vocabulary of the sentence generator beyond the two seed articles
(weather, sport, business, local government, science, culture), so that generated body lines
read like a news site's mix rather than two stories. The slot vocabularies and templates make
the hard negatives: lines and documents with the same wording and different facts.
Everything here was written for this project.
"""

from __future__ import annotations

EXTRA_PROSE = """\
Heavy rain swept across the northern counties on Sunday night, flooding low roads and forcing
the closure of two railway lines between the coast and the hills. Forecasters said the worst of
the weather would pass by Tuesday morning, but warned that rivers would stay high for several
days. Emergency crews pumped water from dozens of homes near the old harbour, where residents
said the sea wall had not been repaired since the storms of last winter.

The city council voted on Thursday to approve a new cycling plan that will add protected lanes
along the main shopping streets and close one bridge to private cars during the morning rush.
Shop owners complained that the changes would drive customers away, while parents at a nearby
primary school welcomed the safer routes. The plan is expected to cost about four million
pounds over three years and will be reviewed after the first summer.

In the second half the visitors pressed high and were rewarded when their captain curled a free
kick into the top corner from twenty yards. The home side had chances to equalise, but their
young striker shot wide twice in the final ten minutes. The manager said afterwards that his
players had shown character, and that the squad would learn from the defeat before the cup tie
next weekend.

Shares in the retailer fell sharply after the company cut its profit forecast for the second
time this year, blaming weak demand for furniture and higher costs for shipping and energy.
Analysts said the warning had been expected, but that the scale of the cut surprised investors.
The chief executive told reporters that the group would close a number of stores and focus on
online sales, where growth has held up better than in the high street.

Scientists at the university have found that a common garden plant can remove small amounts of
metal from polluted soil, a discovery they hope could help clean old industrial sites at low
cost. The team grew the plants for two seasons on land beside a former steel works and measured
the metals in the leaves and roots. Further trials are planned on a larger site next spring,
with support from the regional development agency.

The festival opened on Friday evening with a concert by the national orchestra in the cathedral
square, where thousands of people gathered despite the cold wind. Organisers said ticket sales
had recovered to their level before the pandemic, and that hotels in the old town were almost
full for the whole week. A new programme of free events for children will run every afternoon
in the library and the museum gardens.

Hospital leaders warned that waiting times for routine operations would rise again this winter
unless more beds were opened for patients who are well enough to leave but have no care at home.
Nurses at the main hospital said wards had been under pressure since the autumn, and that staff
were working extra shifts to cover sickness. The health board said it was recruiting doctors
from abroad and would open a new day surgery unit in the spring.

Farmers in the valley say a late frost destroyed most of the apricot blossom this year, which
means a small harvest and higher prices at the market this summer. Some growers have started to
cover young trees with fleece at night, and others are planting later varieties that flower
after the last cold spell. The agriculture ministry said it would consider emergency support
for the worst affected farms once the damage had been assessed.

Residents of the island have waited nearly a decade for a new ferry, and the delays have become
a symbol of the difficulties facing remote communities. The shipyard building the vessel said
sea trials would begin next month, although engineers are still working on problems with the
engines. Islanders told the committee that cancelled sailings had cost them hospital
appointments, school days and business with customers on the mainland.

The trial heard that the defendant had driven more than a hundred miles to the warehouse on the
night of the theft and had loaded the stolen goods into a rented van. His lawyer told the jury
that there was no evidence linking him to the break-in apart from a single receipt found in the
vehicle. The judge adjourned the case until Monday, when a forensic expert is due to give
evidence about the footprints found at the scene.
"""

CITIES = ("Leeds", "York", "Bristol", "Hull", "Derby", "Exeter", "Norwich", "Bolton", "Luton",
          "Preston", "Swindon", "Oxford", "Reading", "Carlisle", "Lincoln", "Durham", "Bath",
          "Chester", "Salford", "Dundee", "Stirling", "Cardiff", "Newport", "Galway", "Cork",
          "Malmo", "Uppsala", "Bergen", "Aarhus", "Tampere", "Gdansk", "Porto", "Lyon")
PEOPLE = ("man", "woman", "teenager", "pensioner", "student", "driver", "cyclist", "nurse",
          "teacher", "shopkeeper")
CRIMES = ("stabbing", "robbery", "burglary", "assault", "arson attack", "car theft",
          "shooting", "break-in", "street fight", "hit-and-run")
TEAMS = ("Leeds", "York City", "Bristol Rovers", "Hull City", "Derby County", "Exeter",
         "Norwich", "Bolton", "Luton Town", "Preston", "Swindon", "Oxford United", "Reading",
         "Carlisle", "Lincoln", "Stockport", "Wigan", "Barnsley", "Portsmouth", "Charlton")
STAGES = ("the final", "the semi-finals", "the quarter-finals", "the fourth round",
          "the last sixteen", "the play-offs")
COMPANIES = ("Northwind", "Tesco", "Ocado", "Vodafone", "Rolls-Royce", "Burberry", "Unilever",
             "Kingfisher", "Sainsbury", "Barratt", "Aviva", "Halma", "Rightmove", "Pearson")
EVENTS = ("profit warning", "strong sales", "chief executive exit", "takeover bid",
          "record results", "weak outlook", "dividend cut", "merger talks", "data breach")
WEATHER = ("heavy rain", "snow", "gales", "flooding", "thunderstorms", "freezing fog",
           "hail", "strong winds")
REGIONS = ("the north-east", "Wales", "the south coast", "the Midlands", "Scotland",
           "the Lake District", "Cornwall", "East Anglia", "Northern Ireland", "the Pennines")
STORMS = ("Agnes", "Babet", "Ciaran", "Debi", "Elin", "Fergus", "Gerrit", "Henk", "Isha",
          "Jocelyn", "Kathleen", "Lilian")
THINGS = ("housing", "cycling", "parking", "library", "park", "school", "bus lane", "tram",
          "recycling", "flood defence", "market", "swimming pool")
ROLES = ("chief executive", "head coach", "chair", "director", "principal", "editor",
         "chief constable", "finance director")
ORGS = ("the National Theatre", "the city orchestra", "the rugby union", "the museum trust",
        "the hospital board", "the port authority", "the water company", "the arts council")
FIRST = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Karin", "Lars", "Maria", "Nils", "Olga", "Peter", "Rosa", "Sven", "Tomas", "Ulla",
         "Victor", "Wendy", "Yusuf", "Zara")
LAST = ("Berg", "Costa", "Dahl", "Eriksson", "Fischer", "Garcia", "Holm", "Ivanov", "Jensen",
        "Kowalski", "Lind", "Moreau", "Nowak", "Olsen", "Petrov", "Quist", "Rossi", "Silva",
        "Tanaka", "Weber", "Young", "Zhang")
PLACES = ("a warehouse", "a block of flats", "a school", "a restaurant", "a factory",
          "a hotel", "a church", "a car park", "a shopping centre", "a farm")
VEHICLES = ("bus", "lorry", "tram", "van", "coach", "train", "taxi")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PARTS = ("morning", "afternoon", "evening", "night")
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue",
           "King Street", "Queen's Road", "Market Place", "Bridge Street", "Victoria Road")
FORCES = ("West Yorkshire", "Greater Manchester", "Avon and Somerset", "Merseyside",
          "Northumbria", "Thames Valley", "Devon and Cornwall", "Lancashire", "Kent", "Essex")
CONDITIONS = ("stable", "serious", "critical", "comfortable")
TOPICS = ("housing", "energy", "schools", "transport", "climate", "health", "crime", "money",
          "science", "travel", "food", "sport")
LEAGUES = ("Championship", "League One", "League Two", "Premiership", "Allsvenskan",
           "Eliteserien", "Superliga", "Ekstraklasa")
INDICES = ("FTSE 100", "FTSE 250", "DAX", "CAC 40", "Nikkei 225", "S&P 500", "Dow Jones",
           "Euro Stoxx 50", "OMX Stockholm 30", "Hang Seng")

#: Headline templates: one per family; the members differ in every slot (different facts).
HEADLINE_TEMPLATES = (
    "Police arrest {person} in {city} after {crime}",
    "{team} beat {team2} {n}-{m} to reach {stage}",
    "{company} shares {move} {pct}% after {event}",
    "Storm {storm} brings {weather} to {region}",
    "{city} council approves new {thing} plan",
    "{first} {last} named new {role} of {org}",
    "Fire breaks out at {place} in {city} overnight",
    "{people} injured as {vehicle} crashes near {city}",
)

#: Short lines whose family members differ by exactly one word.
SHORT_TEMPLATES = (
    "Live: {city} election results",
    "Weather warning for {city}",
    "{city} news in brief",
    "Sign up for the {part} briefing",
    "Listen: the {topic} podcast",
    "Obituary: {first} {last}",
    "Letters: {topic} and you",
    "Traffic news: {street}",
    "Photos: {city} in pictures",
    "More from {topic}",
    "Most read in {topic}",
    "Opinion: {first} {last}",
)

#: Long sentence templates: same wording, different facts in two or more places.
SENTENCE_TEMPLATES = (
    "Police in {city} have arrested a {age}-year-old {person} after a {crime} on {street} on "
    "{day} {part}, and officers are asking witnesses to come forward.",
    "The {team} manager said his players had worked hard for the {n}-{m} win over {team2}, "
    "which lifts them to {pos}th place in the {league} table before the trip to {city}.",
    "Shares in {company} {move2} by {pct} per cent on {day} after the group reported a "
    "{event} and said trading in {region} had been {adj} since the summer.",
    "Forecasters expect {weather} across {region} from {day} {part}, with {storm} bringing "
    "the worst conditions to {city} and the surrounding villages.",
    "The {city} council committee voted {n} to {m} in favour of the {thing} plan on {day}, "
    "despite objections from residents living near {street}.",
    "Firefighters from {city} were called to {place} on {street} at about {hour} on {day} "
    "{part}, and {people} were treated for smoke inhalation at the scene.",
    "{first} {last}, who has led {org} for {n} years, will step down as {role} in the spring "
    "and will be replaced by {first2} {last2}, the board said on {day}.",
)

#: Documents made from one template: same wording, different facts (a police report, a match
#: report, a results statement, a weather outlook). Each sentence has at least two slots.
DOCUMENT_TEMPLATES: tuple[tuple[str, ...], ...] = (
    (
        "Police arrest {person} in {city} after {crime}",
        "Police in {city} have arrested a {age}-year-old {person} after a {crime} on {street} "
        "on {day} {part}.",
        "Officers were called to {street} at about {hour} and found a {victim} with {condition2} "
        "injuries, a spokesperson for {force} Police said.",
        "The {victim} was taken to {city} General Hospital, where doctors described their "
        "condition as {condition} on {day2}.",
        "Detective Inspector {first} {last} said: \u201cWe are keen to hear from anyone who was "
        "near {street} on {day} {part} and saw anything suspicious.\u201d",
        "The {person} is being held in custody and is expected to appear before {city2} "
        "Magistrates\u2019 Court on {day2}.",
        "Anyone with information is asked to call {force} Police, quoting the {crime} on "
        "{street} in {city}.",
    ),
    (
        "{team} beat {team2} {n}-{m} to reach {stage}",
        "{team} came from behind to beat {team2} {n}-{m} on {day} {part} and reach {stage} for "
        "the first time since {year}.",
        "{first} {last} scored twice for {team} after the break, and {first2} {last2} added a "
        "late third from the edge of the area.",
        "{team2} had led through a header from {first3} {last3} in the {minute}th minute, but "
        "faded badly after their goalkeeper was injured.",
        "The {team} manager praised the travelling fans who made the long journey from {city} "
        "and said the squad would rest before the {league} game on {day2}.",
        "{team2} remain {pos}th in the {league} table, {n2} points behind the play-off places, "
        "with {m2} games left to play this season.",
    ),
    (
        "{company} shares {move} {pct}% after {event}",
        "Shares in {company} {move2} by {pct} per cent on {day} after the group announced a "
        "{event} and warned about trading in {region}.",
        "Chief executive {first} {last} told analysts that demand in {region} had been {adj} "
        "since the summer and that costs would rise again next year.",
        "The company said sales in the {n} weeks to the end of {month} were {pct2} per cent "
        "{updown} on the same period last year.",
        "{company} employs about {n2},000 people and runs {m2} sites across {region}, including "
        "a large distribution centre near {city}.",
        "Analysts at {bank} said the {event} had been expected, but cut their price target for "
        "{company} shares to {n3} pence.",
    ),
    (
        "Storm {storm} brings {weather} to {region}",
        "Storm {storm} will bring {weather} to {region} from {day} {part}, forecasters said, "
        "with the worst conditions expected around {city}.",
        "A yellow warning for {weather2} covers {region} until {day2} morning, and drivers "
        "near {city} are advised to allow extra time for journeys.",
        "Rail operators in {region} said services between {city} and {city2} would run to a "
        "reduced timetable on {day}, with {n} trains cancelled.",
        "The {city2} flood team said river levels near {street} were being watched closely "
        "after {weather2} on {day2} {part}.",
        "Schools in {city} will decide on {day} whether to open, and parents are asked to check "
        "the {city2} council website before setting out.",
    ),
)

SITE_NAMES = ("Northern Echo Online", "Valley Gazette", "Harbour Times", "City Post",
              "Coast Courier", "Evening Ledger", "Daily Dispatch", "Lakeside News",
              "Capital Record", "Border Herald")

#: Boilerplate line templates; ``{site}`` is the site's name, ``{hh}:{mm}`` a time that varies
#: on every copy (a dateline: the digits are not the point).
BOILERPLATE_TEMPLATES = (
    "TT",
    "Follow {site} on Facebook",
    "Sign up to the {site} newsletter",
    "Updated {hh}:{mm}",
    "Advertisement",
    "Share this article",
    "\u00a9 {site}. All rights reserved.",
    "Read more from {site}",
    "Click here to subscribe to {site} for just one pound a week",
    "Download the {site} app for breaking news alerts",
    "Comments are closed on this article",
    "Published {hh}:{mm} GMT",
)

__all__ = [name for name in dir() if name.isupper()]
