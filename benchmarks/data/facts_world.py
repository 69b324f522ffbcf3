"""Curated fact types about work, hobbies, tech, money, home and routines.

Same conventions as :mod:`benchmarks.data.facts_personal`. Jobs are not here:
each persona in :mod:`benchmarks.data.build_retrieval_set` has its own.
"""

from benchmarks.data.factkit import FactType, V

WORK = [
    FactType(
        "manager",
        "work",
        decoys=("Colleague {n} works in {m}",),
        memory=(
            "Reports to {n}, head of {m}",
            "{His} line manager is {n}, who runs {m}",
        ),
        queries=("Who is {his} boss?", "Who does {he} answer to at {his} job?"),
        rare_queries=("Which department does {n} lead?",),
        name="person",
        values=(
            V(m="clinical operations"),
            V(m="the platform group"),
            V(m="customer research"),
            V(m="the regional office"),
            V(m="finance and procurement"),
        ),
    ),
    FactType(
        "project",
        "work",
        decoys=("Handed {r} over to another team in {month}",),
        memory=(
            "Leading the migration of {r} to Kubernetes",
            "Tech lead on {r}, which is due to launch in {month}",
        ),
        queries=("What big initiative is {he} running at the company?",),
        rare_queries=("What is {his} involvement with {r}?",),
        values=(
            V(r="Project Bluebird"),
            V(r="the Atlas billing service"),
            V(r="Orion Search"),
            V(r="the Halcyon data platform"),
            V(r="Project Kestrel"),
            V(r="the Meridian mobile app"),
        ),
        requires=("techie",),
    ),
    FactType(
        "commute",
        "work",
        queries=(
            "How does {he} travel to {his} workplace?",
            "What is {his} journey to the job like?",
        ),
        values=(
            V(mem=("Cycles to work, about 25 minutes each way",), tags=("active",)),
            V(mem=("Takes the 7:40 train into the city every morning",)),
            V(mem=("Drives 45 minutes to work on the motorway",)),
            V(mem=("Walks to work in about fifteen minutes",), tags=("active",)),
            V(mem=("Takes two buses to get to work",)),
        ),
    ),
    FactType(
        "remote",
        "work",
        values=(
            V(
                mem=("Works from home on Mondays and Fridays",),
                qs=("Which days is {he} not in the office?",),
            ),
            V(
                mem=(
                    "Fully remote since {year}; the team is spread over four time zones",
                ),
                qs=("Does {he} ever go into an office?",),
                excludes=("commute",),
            ),
            V(
                mem=("Goes into the office four days a week",),
                qs=("How often does {he} work on site?",),
            ),
        ),
        requires=("desk",),
    ),
    FactType(
        "career_goal",
        "work",
        queries=("What are {his} professional ambitions?",),
        values=(
            V(
                mem=("Wants to move into product management within two years",),
                requires=("desk",),
            ),
            V(mem=("Hopes to open {his} own consultancy one day",)),
            V(mem=("Considering going back to university for a PhD",)),
            V(
                mem=("Wants a promotion to senior engineer by next spring",),
                requires=("techie",),
            ),
            V(mem=("Dreams of retiring early to run a vineyard",)),
        ),
    ),
    FactType(
        "exam",
        "work",
        decoys=("Passed the {r} exam back in {year}",),
        memory=(
            "Studying for the {r} exam in {month}",
            "Sitting the {r} exam in {month} and revising every evening",
        ),
        queries=("Which professional qualification is {he} preparing for?",),
        rare_queries=("When does {he} take {r}?",),
        values=(
            V(r="AWS Solutions Architect"),
            V(r="CFA Level II"),
            V(r="PMP"),
            V(r="CKA"),
            V(r="ACCA Strategic Business Leader"),
            V(r="CIPD Level 7"),
        ),
        requires=("desk",),
    ),
    FactType(
        "meetings",
        "work",
        values=(
            V(
                mem=("Hates meetings before 10am",),
                qs=("What time of day should calls with {him} not be scheduled?",),
            ),
            V(
                mem=("Blocks Friday afternoons for focus time, no meetings",),
                qs=("When during the week is {he} unavailable for calls?",),
            ),
        ),
        requires=("desk",),
    ),
]

HOBBIES = [
    FactType(
        "instrument",
        "hobbies",
        memory=(
            "Plays the {m} in a community orchestra",
            "Has played the {m} since childhood",
        ),
        queries=(
            "What musical instrument does {he} play?",
            "Which instrument does {he} perform on?",
        ),
        values=(
            V(m="viola"),
            V(m="trombone"),
            V(m="double bass"),
            V(m="clarinet"),
            V(m="French horn"),
            V(m="bassoon"),
        ),
        tags=("music",),
    ),
    FactType(
        "reading",
        "hobbies",
        memory=("Reads mostly {m}", "Never goes anywhere without a book, usually {m}"),
        queries=(
            "What sort of books does {he} enjoy?",
            "What genre does {he} pick up at the library?",
        ),
        values=(
            V(m="Scandinavian crime novels"),
            V(m="hard science fiction"),
            V(m="narrative nonfiction about history"),
            V(m="fantasy epics"),
            V(m="poetry collections"),
            V(m="graphic novels"),
        ),
        also=("author",),
    ),
    FactType(
        "author",
        "hobbies",
        decoys=("Found {short}'s books hard going",),
        memory=("Favourite author is {r}", "Has read everything by {r}"),
        queries=("Which novelist does {he} admire most?",),
        rare_queries=(
            "Does {he} like {short}'s books?",
            "Would a new {short} novel make a good gift for {him}?",
        ),
        values=(
            V(r="Ursula K. Le Guin", short="Le Guin"),
            V(r="Haruki Murakami", short="Murakami"),
            V(r="Terry Pratchett", short="Pratchett"),
            V(r="N. K. Jemisin", short="Jemisin"),
            V(r="Kazuo Ishiguro", short="Ishiguro"),
            V(r="Octavia Butler", short="Butler"),
            V(r="Hilary Mantel", short="Mantel"),
        ),
    ),
    FactType(
        "garden",
        "hobbies",
        values=(
            V(
                mem=("Grows heirloom tomatoes and chillies on {his} balcony",),
                qs=("What produce is {he} cultivating at home?",),
            ),
            V(
                mem=("Has an allotment and grows most of {his} own vegetables",),
                qs=("Does {he} have a plot where {he} raises crops?",),
            ),
            V(
                mem=("Keeps bees in the back garden; got two hives last spring",),
                qs=("Does {he} produce {his} own honey?",),
            ),
            V(
                mem=("Grows bonsai trees; the oldest is a juniper",),
                qs=("What miniature plant hobby does {he} have?",),
            ),
        ),
    ),
    FactType(
        "craft",
        "hobbies",
        values=(
            V(
                mem=("Knits sweaters for the whole family",),
                qs=("Does {he} do any needlework?",),
            ),
            V(
                mem=("Does woodworking in the garage; just finished an oak bookshelf",),
                qs=("Does {he} make things out of timber?",),
            ),
            V(
                mem=("Restores vintage motorcycles at weekends",),
                qs=("Is {he} into repairing old motorbikes?",),
            ),
            V(
                mem=("Makes {his} own pottery on a wheel",),
                qs=("Does {he} do ceramics?",),
            ),
            V(
                mem=("Paints watercolour landscapes",),
                qs=("What kind of art does {he} create?",),
            ),
        ),
    ),
    FactType(
        "games",
        "hobbies",
        decoys=("Gave up on {r} after a week",),
        memory=(
            "Plays {r} online with old university friends",
            "Spends most weekends playing {r}",
        ),
        queries=("What video game is {he} hooked on?",),
        rare_queries=("Is {he} into {r}?",),
        values=(
            V(r="Valorant"),
            V(r="Stardew Valley"),
            V(r="Factorio"),
            V(r="Elden Ring"),
            V(r="Baldur's Gate 3"),
            V(r="Rocket League"),
            V(r="Civilization VI"),
        ),
    ),
    FactType(
        "camera",
        "hobbies",
        decoys=("Sold an old {r} last year",),
        memory=(
            "Shoots film photography with {his} {r}",
            "Carries {his} {r} everywhere and develops the film at home",
        ),
        queries=("What camera does {he} use for analog pictures?",),
        rare_queries=("Does {he} still use the {r}?",),
        values=(
            V(r="Pentax K1000"),
            V(r="Leica M6"),
            V(r="Canon AE-1"),
            V(r="Olympus OM-1"),
            V(r="Nikon FM2"),
            V(r="Mamiya RB67"),
        ),
    ),
    FactType(
        "tv",
        "hobbies",
        decoys=("Gave up on {r} after two episodes",),
        memory=("Currently watching {r}", "Halfway through {r} and loving it"),
        queries=("Which show is {he} in the middle of?",),
        rare_queries=("Has {he} finished {r} yet?",),
        values=(
            V(r="Severance"),
            V(r="Shogun"),
            V(r="The Bear"),
            V(r="Slow Horses"),
            V(r="Succession"),
            V(r="Andor"),
            V(r="Fleabag"),
        ),
    ),
    FactType(
        "podcast",
        "hobbies",
        decoys=("Stopped listening to {r}",),
        memory=(
            "Listens to the {r} podcast every morning",
            "Never misses an episode of the {r} podcast",
        ),
        queries=("What audio show does {he} tune into?",),
        rare_queries=("Is {he} a fan of {r}?",),
        values=(
            V(r="Hardcore History"),
            V(r="99% Invisible"),
            V(r="Radiolab"),
            V(r="Revisionist History"),
            V(r="Darknet Diaries"),
            V(r="Freakonomics Radio"),
        ),
    ),
    FactType(
        "band",
        "hobbies",
        decoys=("Walked out of a {r} concert once",),
        memory=("Favourite band is {r}", "Has seen {r} live five times"),
        queries=("Which group's music does {he} love most?",),
        rare_queries=("Does {he} like {r}?",),
        values=(
            V(r="Radiohead"),
            V(r="Fleetwood Mac"),
            V(r="Khruangbin"),
            V(r="Arctic Monkeys"),
            V(r="Wolf Alice"),
            V(r="Bon Iver"),
            V(r="Tame Impala"),
        ),
        tags=("music",),
    ),
    FactType(
        "team",
        "hobbies",
        decoys=("Can't stand {r}",),
        memory=(
            "Supports {r} and watches every match",
            "Lifelong {r} fan with a season ticket",
        ),
        queries=("Which club does {he} cheer for?",),
        rare_queries=("Does {he} follow {r}?",),
        values=(
            V(r="Liverpool FC"),
            V(r="Celtic"),
            V(r="the Green Bay Packers"),
            V(r="the Boston Celtics"),
            V(r="Borussia Dortmund"),
            V(r="the Chicago Cubs"),
            V(r="Athletic Bilbao"),
        ),
    ),
    FactType(
        "language",
        "education",
        memory=(
            "Learning {m} on Duolingo, on a {streak}-day streak",
            "Takes evening classes in {m}",
        ),
        queries=("Which foreign tongue is {he} studying?",),
        values=(
            V(m="Portuguese", streak="212"),
            V(m="Korean", streak="95"),
            V(m="Italian", streak="340"),
            V(m="Welsh", streak="58"),
            V(m="Mandarin", streak="410"),
            V(m="Dutch", streak="127"),
        ),
    ),
    FactType(
        "degree",
        "education",
        memory=("Has a master's in {m} from {r}", "Studied {m} at {r}"),
        queries=("What was {his} field at university?",),
        values=(
            V(m="marine biology", r="Edinburgh"),
            V(m="economics", r="the LSE"),
            V(m="classics", r="Trinity College Dublin"),
            V(m="mechanical engineering", r="Imperial"),
            V(m="art history", r="the Courtauld"),
            V(m="statistics", r="Warwick"),
        ),
    ),
]

TECH = [
    FactType(
        "phone",
        "tech",
        memory=("Uses {m}", "Switched to {m} last year"),
        queries=("What smartphone does {he} carry?", "Which handset does {he} own?"),
        values=(
            V(m="an iPhone 15 Pro"),
            V(m="a Pixel 8"),
            V(m="a Samsung Galaxy S24"),
            V(m="a Fairphone 5"),
            V(m="a Nothing Phone"),
        ),
        tags=("devices",),
    ),
    FactType(
        "laptop",
        "tech",
        memory=("Work laptop is a {m}", "Does everything on a {m}"),
        queries=("What computer does {he} use?",),
        values=(
            V(m="Framework 13 running Fedora"),
            V(m="ThinkPad X1 Carbon with Ubuntu"),
            V(m="MacBook Air M2"),
            V(m="Dell XPS 15 on Windows 11"),
            V(m="Surface Laptop 5"),
        ),
        tags=("devices",),
    ),
    FactType(
        "editor",
        "tech",
        memory=(
            "Writes code in {r} with vim keybindings",
            "Does all {his} programming in {r}",
        ),
        queries=("Which text editor does {he} prefer for software work?",),
        values=(
            V(r="Neovim"),
            V(r="VS Code"),
            V(r="Emacs"),
            V(r="Helix"),
            V(r="IntelliJ"),
        ),
        requires=("techie",),
    ),
    FactType(
        "notes",
        "tech",
        decoys=("Tried {r} but found it cluttered",),
        memory=(
            "Keeps all {his} notes in {r}",
            "Organises {his} life in {r} with a daily journal page",
        ),
        queries=(
            "Where does {he} store {his} personal knowledge base?",
            "What app does {he} jot things down in?",
        ),
        rare_queries=("Does {he} plan {his} tasks in {r}?",),
        values=(
            V(r="Obsidian"),
            V(r="Notion"),
            V(r="Logseq"),
            V(r="Bear"),
            V(r="OneNote"),
            V(r="Apple Notes"),
        ),
    ),
    FactType(
        "display",
        "tech",
        values=(
            V(
                mem=("Prefers dark mode in every app",),
                qs=("What colour scheme does {he} like on screens?",),
            ),
            V(
                mem=("Keeps {his} phone in greyscale mode to cut screen time",),
                qs=("Why is {his} mobile display black and white?",),
            ),
        ),
    ),
    FactType(
        "comms",
        "preferences",
        queries=("What's the best way to reach {him}?",),
        values=(
            V(
                mem=("Prefers text messages to phone calls",),
                qs=("Should I ring {him} or send an SMS?",),
            ),
            V(
                mem=("Wants email summaries, not Slack pings",),
                qs=("How should I send {him} updates?",),
            ),
            V(
                mem=("Doesn't answer calls during work hours; voicemail is fine",),
                qs=("Can I phone {him} in the middle of the workday?",),
            ),
            V(
                mem=("Likes voice notes on WhatsApp",),
                qs=("What messaging format does {he} prefer?",),
            ),
        ),
    ),
    FactType(
        "proglang",
        "tech",
        decoys=("Finds {r} frustrating to work with",),
        memory=(
            "Favourite programming language is {r}",
            "Writes most side projects in {r}",
        ),
        queries=("Which language does {he} most enjoy coding in?",),
        rare_queries=("How does {he} feel about {r}?",),
        values=(
            V(r="Rust"),
            V(r="Elixir"),
            V(r="Kotlin"),
            V(r="Haskell"),
            V(r="OCaml"),
            V(r="Clojure"),
            V(r="Zig"),
        ),
        requires=("techie",),
    ),
    FactType(
        "smarthome",
        "tech",
        values=(
            V(
                mem=("Runs Home Assistant on a Raspberry Pi to control the lights",),
                qs=("What powers the automated lighting in {his} house?",),
            ),
            V(
                mem=("Has a Nest thermostat and asks Alexa to adjust the heating",),
                qs=("How does {he} control the temperature in {his} house?",),
            ),
        ),
    ),
    FactType(
        "password",
        "tech",
        memory=(
            "Uses {r} for all {his} passwords",
            "Stores logins and 2FA codes in {r}",
        ),
        queries=("Which app holds {his} credentials?",),
        values=(V(r="1Password"), V(r="Bitwarden"), V(r="KeePassXC"), V(r="Dashlane")),
    ),
]

FINANCE = [
    FactType(
        "budget",
        "finance",
        memory=(
            "Trying to keep grocery spending under {m} a month",
            "Set a monthly food-shopping budget of {m}",
        ),
        queries=("How much does {he} want to spend at the supermarket?",),
        values=(V(m="£400"), V(m="$600"), V(m="€350"), V(m="$450")),
        tags=("money",),
    ),
    FactType(
        "saving",
        "finance",
        values=(
            V(
                mem=("Saving for a deposit on a flat",),
                qs=("What is {he} putting money aside for?",),
            ),
            V(
                mem=("Building a six-month emergency fund",),
                qs=("How big a cash cushion is {he} aiming for?",),
            ),
            V(
                mem=("Saving for {his} daughter's university fees",),
                qs=("Is {he} setting aside money for a child's education?",),
                requires=("kids",),
                tags=("kids",),
            ),
        ),
        tags=("money",),
    ),
    FactType(
        "bank",
        "finance",
        memory=("Banks with {m}", "Main current account is with {m}"),
        queries=("Where does {he} keep {his} everyday money?",),
        values=(
            V(m="Monzo"),
            V(m="Chase"),
            V(m="ING"),
            V(m="Revolut"),
            V(m="Starling"),
            V(m="Nationwide"),
        ),
        tags=("money",),
    ),
    FactType(
        "invest",
        "finance",
        decoys=("Closed an old account at {r} years ago",),
        memory=("Puts {amt} a month into index funds with {r}",),
        queries=("Does {he} have money in the stock market?",),
        rare_queries=("What does {he} hold at {r}?",),
        values=(
            V(r="Vanguard", amt="£300"),
            V(r="Fidelity", amt="$500"),
            V(r="Trading 212", amt="€200"),
            V(r="Schwab", amt="$250"),
        ),
        tags=("money",),
    ),
    FactType(
        "debt",
        "finance",
        values=(
            V(
                mem=("Paying off student loans, about {amt} left",),
                amt="$18,000",
                qs=("How much does {he} still owe for {his} degree?",),
            ),
            V(
                mem=("Clearing a credit card balance before the end of the year",),
                qs=("Is {he} carrying any card debt?",),
            ),
            V(
                mem=("Has twelve payments left on {his} car loan",),
                qs=("When will {his} vehicle be fully paid for?",),
            ),
        ),
        tags=("money",),
    ),
    FactType(
        "subscription",
        "finance",
        memory=("Cancelled {r} to save money", "Dropped {r} last month to cut costs"),
        queries=("Which subscription did {he} get rid of to economise?",),
        values=(V(r="Netflix"), V(r="Spotify Premium"), V(r="Disney+"), V(r="Audible")),
        tags=("money",),
    ),
    FactType(
        "tax",
        "finance",
        memory=(
            "{His} accountant {n} {surname} files {his} tax return every year",
            "{n} {surname} does {his} bookkeeping and taxes",
        ),
        queries=("Who helps {him} deal with the taxman?",),
        rare_queries=("What does {n} {surname} do for {him}?",),
        name="person",
        values=(V(),),
        tags=("money",),
    ),
]

HOME = [
    FactType(
        "housing",
        "home",
        queries=("Which part of town does {he} live in?",),
        values=(
            V(
                mem=("Rents a two-bedroom flat in {hood}",),
                qs=("Does {he} own {his} home or pay a landlord?",),
            ),
            V(
                mem=("Owns a terraced house in {hood}",),
                qs=("Is {his} place bought or rented?",),
            ),
        ),
    ),
    FactType(
        "moving",
        "home",
        decoys=("Turned down a job offer in {r} last year",),
        memory=(
            "Moving to {r} in {month} for a new job",
            "Relocating to {r} in {month}; the new role starts right after",
        ),
        queries=("Is {he} about to change cities?",),
        rare_queries=("Why is {he} going to {r}?",),
        values=(
            V(r="Denver"),
            V(r="Rotterdam"),
            V(r="Singapore"),
            V(r="Melbourne"),
            V(r="Oslo"),
        ),
    ),
    FactType(
        "renovation",
        "home",
        decoys=("{n} {surname} quoted for a loft conversion but was too expensive",),
        memory=(
            "Renovating the kitchen; the builder is {n} {surname}",
            "{n} {surname} is redoing {his} bathroom",
        ),
        queries=("Who is the tradesperson on {his} home improvement project?",),
        rare_queries=("What is {n} {surname} working on for {him}?",),
        name="person",
        values=(V(),),
    ),
    FactType(
        "car",
        "home",
        memory=("Drives a {m}", "{His} car is a {m}"),
        queries=("What vehicle does {he} own?",),
        values=(
            V(m="2019 Subaru Outback"),
            V(m="Tesla Model 3"),
            V(m="Volvo XC40 Recharge"),
            V(m="Mazda MX-5"),
            V(m="VW ID.3"),
            V(m="Toyota Prius"),
        ),
    ),
]

SCHEDULE = [
    FactType(
        "weekly",
        "schedule",
        max_per_user=2,
        values=(
            V(
                mem=("Has choir practice every Wednesday evening",),
                qs=("Which night of the week does {he} go singing?",),
                tags=("music",),
            ),
            V(
                mem=("Goes to a pub quiz with friends every Tuesday night",),
                qs=("When does {he} do the trivia evening?",),
            ),
            V(
                mem=("Volunteers at the food bank on Saturday mornings",),
                qs=("What charity work does {he} do at weekends?",),
            ),
            V(
                mem=("Coaches a youth basketball team on Thursday evenings",),
                qs=("Does {he} train a kids' sports team?",),
            ),
            V(
                mem=("Goes to a Monday-night salsa class",),
                qs=("Does {he} take dance lessons?",),
                tags=("active",),
            ),
            V(
                mem=("Does the school drop-off at 8:15 every weekday",),
                qs=("What time does {he} take the children to class in the morning?",),
                requires=("kids",),
                tags=("kids",),
            ),
        ),
    ),
    FactType(
        "appointment",
        "schedule",
        max_per_user=2,
        values=(
            V(
                mem=("Dentist appointment on {date} at 9:30",),
                qs=("When is {his} next dental check-up?",),
            ),
            V(
                mem=("Car is booked in for a service on {date}",),
                qs=("When is {his} vehicle going to the garage?",),
                requires=("car",),
            ),
            V(
                mem=("Haircut booked for {date}",),
                qs=("When is {his} next trim at the salon?",),
            ),
            V(
                mem=("Parent-teacher evening on {date}",),
                qs=("When is the school conference about {his} kid's progress?",),
                requires=("kids",),
                tags=("kids",),
            ),
            V(
                mem=("Flu jab booked at the pharmacy on {date}",),
                qs=("When is {he} getting vaccinated?",),
            ),
        ),
    ),
    FactType(
        "away",
        "schedule",
        values=(
            V(
                mem=("Away at a conference in {city} from {date} for three days",),
                qs=("Is there a work event taking {him} out of town soon?",),
            ),
            V(
                mem=("Doing a digital detox the first week of {month}: no email",),
                qs=("When is {he} taking a break from {his} inbox?",),
            ),
            V(
                mem=("Has jury service for two weeks starting {date}",),
                qs=(
                    "Does {he} have a civic duty coming up that will keep {him} busy?",
                ),
            ),
        ),
    ),
]

# Codes and numbers an agent is asked to keep: several per user. The rare-term
# questions give only the code ("What does QX7PLM refer to?"), so the code is
# the one thing that tells the memories apart: keyword matching's home ground.
CODE_QUERIES = ("What does {code} refer to?", "What is {code}?")
NUMBER_QUERIES = ("What does {num} refer to?", "What is the number {num} for?")
REFERENCES = [
    FactType(
        "reference",
        "admin",
        min_per_user=2,
        max_per_user=3,
        values=(
            V(
                mem=("Booking reference for the {city} flight is {code}",),
                qs=("What's {his} airline booking code for the trip to {city}?",),
                rqs=CODE_QUERIES,
            ),
            V(
                mem=("Hotel confirmation number for the {city} stay is {num}",),
                qs=("Which number proves {his} room booking in {city}?",),
                rqs=NUMBER_QUERIES,
            ),
            V(
                mem=("Car rental pickup code is {code}",),
                qs=("What does {he} need to collect the hire car?",),
                rqs=CODE_QUERIES,
            ),
            V(
                mem=("Home insurance policy number is {num}, with {r}",),
                r="Aviva",
                qs=("Who insures {his} house?",),
                rqs=NUMBER_QUERIES,
            ),
            V(
                mem=(
                    "Support ticket {code} is the open case about the broken dishwasher",
                ),
                qs=("Is there an open repair case for a kitchen appliance?",),
                rqs=CODE_QUERIES,
            ),
            V(
                mem=("Parcel with tracking number {num} holds the new headphones",),
                qs=("How can {he} trace the delivery of {his} headphones?",),
                rqs=NUMBER_QUERIES,
            ),
            V(
                mem=("Office parking permit is {code}, valid for level 2",),
                qs=("Where is {he} allowed to park at work?",),
                rqs=CODE_QUERIES,
            ),
        ),
    ),
]

PREFERENCES = [
    FactType(
        "answer_style",
        "preferences",
        max_per_user=2,
        values=(
            V(
                mem=("Wants short answers without bullet points",),
                qs=("How should replies to {him} be formatted?",),
            ),
            V(
                mem=("Likes detailed explanations with sources linked",),
                qs=("How thorough should responses to {him} be?",),
            ),
            V(
                mem=("Asked to always use metric units",),
                qs=("Should I give {him} distances in miles or kilometres?",),
            ),
            V(
                mem=("Prefers British spelling in anything written for {him}",),
                qs=("Should documents for {him} say colour or color?",),
            ),
        ),
    ),
    FactType(
        "nickname",
        "preferences",
        memory=("Prefers to be called {nick}", "Goes by {nick} with friends"),
        queries=("What name does {he} like people to use?",),
        values=(V(),),
    ),
]

WORLD = WORK + HOBBIES + TECH + FINANCE + HOME + SCHEDULE + REFERENCES + PREFERENCES
