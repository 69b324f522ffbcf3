"""Curated fact types about a person's body, food, travel, family and pets.

Each :class:`~benchmarks.data.factkit.FactType` pairs memory templates (how an
agent would jot the fact down) with query templates written to ask for the
same fact in other words. Slot values carry their own paraphrase words
(``q``) so a query never just repeats the stored text: "Allergic to
shellfish" is asked for as "What seafood can't she eat without a reaction?".

Placeholders: ``{he} {him} {his} {He} {His}`` are the user's pronouns; ``{n}``
is a generated first name (``{surname}`` a family name); ``{Kid}``,
``{sib}``, ``{spouse}`` are filled per fact; ``{month} {date} {year}
{city}`` are drawn per fact; every other slot comes from the chosen value.
"""

from benchmarks.data.factkit import FactType, V

FOOD = [
    FactType(
        "allergy",
        "food",
        memory=(
            "Allergic to {m}",
            "Has a severe {m} allergy and carries an EpiPen",
            "Cannot have {m}; even a trace gives {him} hives",
        ),
        queries=(
            "What {q} can't {he} eat without a reaction?",
            "Which {q} would make {him} ill if it were in a dish?",
            "Is there any {q} that could send {him} into anaphylaxis?",
        ),
        values=(
            V(m="shellfish", q="seafood"),
            V(m="peanuts", q="nut"),
            V(m="sesame", q="seed"),
            V(m="kiwi", q="fruit"),
            V(m="cow's milk", q="dairy product"),
        ),
        tags=("medical", "dietary"),
    ),
    FactType(
        "diet",
        "food",
        queries=("What eating regime does {he} stick to?",),
        values=(
            V(
                mem=("Has been vegetarian since {year}", "Follows a vegetarian diet"),
                qs=("Does {he} eat meat?", "Would a beef burger be okay for {him}?"),
            ),
            V(
                mem=("Vegan for ethical reasons",),
                qs=("Can {he} have cheese or honey?",),
            ),
            V(
                mem=("Pescatarian: eats fish but no other meat",),
                qs=("Would a chicken dish be fine for {him}?",),
            ),
            V(
                mem=("On a ketogenic diet since {month}",),
                qs=("Is {he} cutting out carbs like bread and rice?",),
            ),
            V(
                mem=("Eats only halal meat",),
                qs=("Does {he} follow Islamic dietary rules?",),
            ),
            V(
                mem=("Does intermittent fasting and doesn't eat before noon",),
                qs=("Does {he} skip breakfast on purpose?",),
            ),
        ),
        tags=("dietary",),
    ),
    FactType(
        "cuisine",
        "food",
        decoys=("Didn't enjoy {dish} the last time {he} tried it",),
        memory=(
            "Loves {m} food, especially {dish}",
            "Favourite cuisine is {m}; always orders {dish}",
        ),
        queries=("Which country's cooking does {he} enjoy most?",),
        rare_queries=(
            "Would {he} be happy with {dish} for dinner?",
            "Is {dish} something {he} likes?",
        ),
        values=(
            V(m="Thai", dish="khao soi"),
            V(m="Ethiopian", dish="injera with misir wot"),
            V(m="Georgian", dish="khachapuri"),
            V(m="Peruvian", dish="ceviche"),
            V(m="Sichuan", dish="mapo tofu"),
            V(m="Lebanese", dish="fattoush"),
            V(m="Korean", dish="bibimbap"),
            V(m="Oaxacan", dish="mole negro"),
        ),
    ),
    FactType(
        "dislike",
        "food",
        memory=("Hates {m} and asks restaurants to leave it out", "Can't stand {m}"),
        queries=(
            "Which {q} does {he} find revolting?",
            "Is there a {q} {he} always picks off {his} plate?",
            "What {q} tastes awful to {him}?",
        ),
        values=(
            V(m="cilantro", q="herb"),
            V(m="mushrooms", q="kind of fungus"),
            V(m="blue cheese", q="cheese"),
            V(m="raw onion", q="vegetable"),
            V(m="liver", q="organ meat"),
        ),
    ),
    FactType(
        "coffee",
        "food",
        memory=("Takes {his} coffee as {m}", "Usual coffee order: {m}"),
        queries=(
            "How does {he} like {his} caffeine fix?",
            "What should I get {him} from the café?",
        ),
        values=(
            V(m="an oat milk flat white"),
            V(m="a double espresso, no sugar"),
            V(m="black cold brew"),
            V(m="a decaf latte with almond milk"),
            V(m="a cortado"),
            V(m="a large americano with a splash of milk"),
        ),
    ),
    FactType(
        "restaurant",
        "food",
        decoys=(
            "A colleague keeps recommending {r}, but {he} hasn't been yet",
            "Found {r} overpriced and noisy",
        ),
        memory=(
            "Favourite restaurant is {r}",
            "Always books a table at {r} for special occasions",
        ),
        queries=("Where does {he} like to go for a celebratory meal?",),
        rare_queries=("What does {he} think of {r}?", "Has {he} been to {r}?"),
        values=(
            V(r="Osteria Lupo"),
            V(r="Bao Bei"),
            V(r="Casa Alvarado"),
            V(r="Le Petit Zinc"),
            V(r="Tsukiji Sushi Bar"),
            V(r="The Copper Kettle"),
            V(r="Dishoom"),
        ),
    ),
]

TRAVEL = [
    FactType(
        "seat",
        "travel",
        queries=(
            "Where does {he} like to sit on a plane?",
            "Which spot on the aircraft should I reserve for {him}?",
        ),
        values=(
            V(mem=("Prefers window seats on long flights",)),
            V(mem=("Always asks for an aisle seat when flying",)),
            V(mem=("Pays extra for exit-row seats for the legroom",)),
        ),
        tags=("travel",),
    ),
    FactType(
        "airline",
        "travel",
        decoys=("Used to fly with {r} but let the status lapse",),
        memory=("Has {tier} status with {r}", "Collects miles with {r} ({tier} tier)"),
        queries=(
            "Which carrier's loyalty scheme is {he} a member of?",
            "What frequent flyer perks does {he} have?",
        ),
        rare_queries=("What level is {he} on {r}?",),
        values=(
            V(r="Lufthansa Miles & More", tier="Senator"),
            V(r="Delta SkyMiles", tier="Platinum Medallion"),
            V(r="British Airways Executive Club", tier="Silver"),
            V(r="Flying Blue", tier="Gold"),
            V(r="Qantas Frequent Flyer", tier="Platinum"),
            V(r="Alaska Mileage Plan", tier="MVP"),
        ),
        tags=("travel",),
    ),
    FactType(
        "trip",
        "travel",
        decoys=("A friend just got back from {r} and loved it",),
        memory=(
            "Planning a trip to {r} in {month}",
            "Booked two weeks in {r} for {month}",
        ),
        queries=(
            "Where is {he} going on {his} next holiday?",
            "What vacation does {he} have coming up?",
        ),
        rare_queries=("When is {he} heading to {r}?", "What are {his} dates for {r}?"),
        values=(
            V(r="Lisbon"),
            V(r="Hokkaido"),
            V(r="Patagonia"),
            V(r="Zermatt"),
            V(r="Oaxaca"),
            V(r="the Faroe Islands"),
            V(r="Tbilisi"),
            V(r="Queenstown"),
            V(r="Dubrovnik"),
            V(r="Kerala"),
        ),
    ),
    FactType(
        "past_trip",
        "travel",
        decoys=("Would love to visit {r} one day",),
        memory=(
            "Spent six months backpacking through {r} after university",
            "Backpacked across {r} for a summer after finishing college",
        ),
        queries=("Which country did {he} roam around for months once {he} graduated?",),
        rare_queries=("Has {he} ever been to {r}?",),
        values=(
            V(r="Vietnam"),
            V(r="Peru"),
            V(r="Morocco"),
            V(r="Indonesia"),
            V(r="Chile"),
            V(r="Sri Lanka"),
            V(r="Mongolia"),
            V(r="Colombia"),
        ),
    ),
    FactType(
        "motion_sick",
        "travel",
        values=(
            V(
                mem=("Gets seasick on boats, even short ferry rides",),
                qs=("Would a catamaran excursion be a bad idea for {him}?",),
            ),
            V(
                mem=("Gets carsick on winding mountain roads unless {he} is driving",),
                qs=("Is {he} okay as a passenger on twisty alpine routes?",),
            ),
        ),
        tags=("travel",),
    ),
    FactType(
        "lodging",
        "travel",
        queries=("What kind of accommodation does {he} like on trips?",),
        values=(
            V(mem=("Prefers apartment rentals with a kitchen over hotels",)),
            V(mem=("Only stays in hotels with a gym and a late checkout",)),
            V(mem=("Likes small family-run guesthouses rather than big chains",)),
        ),
        tags=("travel",),
    ),
    FactType(
        "travel_style",
        "travel",
        values=(
            V(
                mem=("Takes trains instead of planes for any trip under five hours",),
                qs=("Would {he} rather go by rail or fly for a short journey?",),
            ),
            V(
                mem=("Travels with carry-on only and never checks a bag",),
                qs=("Does {he} put luggage in the hold?",),
            ),
            V(
                mem=("Likes to be at the airport three hours before departure",),
                qs=("How early does {he} want to arrive for a flight?",),
            ),
        ),
        tags=("travel",),
    ),
    FactType(
        "passport",
        "travel",
        memory=("Holds both {a} and {b} passports", "Dual {a} and {b} citizen"),
        queries=("Which nationalities does {he} have?",),
        values=(
            V(a="Irish", b="Canadian"),
            V(a="Italian", b="Argentinian"),
            V(a="British", b="Australian"),
            V(a="German", b="Turkish"),
            V(a="French", b="Senegalese"),
            V(a="Polish", b="American"),
        ),
    ),
]

HEALTH = [
    FactType(
        "condition",
        "health",
        values=(
            V(
                mem=("Has mild asthma and keeps a {r} inhaler in {his} bag",),
                r="Ventolin",
                qs=("Does {he} have a respiratory condition that makes {him} wheeze?",),
                rqs=("Why does {he} carry {r}?",),
            ),
            V(
                mem=("Gets migraines when {he} skips meals",),
                qs=("What brings on {his} bad headaches?",),
            ),
            V(
                mem=("Has type 1 diabetes and wears a {r} glucose monitor",),
                r="Dexcom G7",
                qs=("Does {he} need to keep an eye on {his} blood sugar?",),
                rqs=("What is the {r} for?",),
                tags=("dietary",),
            ),
            V(
                mem=("Takes {r} for high blood pressure",),
                r="amlodipine",
                qs=("Is {he} being treated for hypertension?",),
                rqs=("What does {he} take {r} for?",),
            ),
            V(
                mem=("Lives with rheumatoid arthritis; mornings are the hardest",),
                qs=("Does {he} have chronic inflammation in {his} joints?",),
            ),
            V(
                mem=("Has an underactive thyroid and takes {r} every morning",),
                r="levothyroxine",
                qs=("What hormone problem is {he} treated for?",),
                rqs=("Why is {he} on {r}?",),
            ),
        ),
        tags=("medical",),
    ),
    FactType(
        "injury",
        "health",
        values=(
            V(
                mem=("Recovering from a torn ACL in {his} left knee",),
                qs=("Why has {he} had to stop running lately?",),
            ),
            V(
                mem=("Had shoulder surgery in {month} and can't lift anything heavy",),
                qs=("Is there a physical limit on what {he} can carry right now?",),
            ),
            V(
                mem=("Broke {his} wrist skiing in {month}; the cast comes off soon",),
                qs=("What happened to {his} arm on the slopes?",),
            ),
            V(
                mem=("Has a slipped disc and needs a standing desk",),
                qs=("Does {he} have back trouble?",),
            ),
        ),
        tags=("medical",),
    ),
    FactType(
        "med_allergy",
        "health",
        values=(
            V(
                mem=("Allergic to penicillin",),
                qs=("Which antibiotic must doctors not prescribe {him}?",),
            ),
            V(
                mem=("Reacts badly to ibuprofen, so only takes paracetamol",),
                qs=("What painkiller should {he} avoid?",),
            ),
            V(mem=("Allergic to latex",), qs=("Can {he} wear rubber gloves?",)),
        ),
        tags=("medical",),
    ),
    FactType(
        "sleep",
        "health",
        values=(
            V(
                mem=("Has had insomnia for years and uses a white-noise machine",),
                qs=("Does {he} have trouble nodding off at night?",),
                tags=("medical",),
            ),
            V(
                mem=("Has sleep apnoea and uses a CPAP machine at night",),
                qs=("What device does {he} need overnight?",),
                tags=("medical",),
            ),
            V(
                mem=("Naturally an early riser, up at 5am even on weekends",),
                qs=("What time does {he} usually wake?",),
            ),
        ),
    ),
    FactType(
        "doctor",
        "health",
        decoys=("Dr {surname} at {r} was {his} old dentist",),
        memory=(
            "GP is Dr {surname} at {r}",
            "Sees Dr {surname} for check-ups; the practice is {r}",
        ),
        queries=("Who is {his} regular physician?",),
        rare_queries=("Where is Dr {surname}'s surgery?",),
        values=(
            V(r="Riverside Medical Centre"),
            V(r="Elm Grove Surgery"),
            V(r="Harbourview Clinic"),
            V(r="Northgate Health Centre"),
            V(r="Maple Street Family Practice"),
        ),
    ),
    FactType(
        "therapy",
        "health",
        values=(
            V(
                mem=("Sees a therapist every other Thursday",),
                qs=("How often does {he} have counselling sessions?",),
            ),
            V(
                mem=("Working through burnout with a counsellor since {month}",),
                qs=("Is {he} getting support for {his} mental health?",),
            ),
        ),
        tags=("medical",),
    ),
    FactType(
        "vision",
        "health",
        values=(
            V(
                mem=(
                    "Wears contact lenses but switches to glasses when {his} eyes get dry",
                ),
                qs=("Does {he} need correction for {his} eyesight?",),
            ),
            V(
                mem=("Had laser eye surgery in {year}",),
                qs=("Has {he} had {his} vision fixed surgically?",),
            ),
            V(
                mem=("Colour-blind: red and green look alike to {him}",),
                qs=("Does {he} have trouble telling certain hues apart?",),
                tags=("medical",),
            ),
        ),
    ),
    FactType(
        "pregnancy",
        "health",
        memory=("Is 24 weeks pregnant, due in {month}", "Expecting a baby in {month}"),
        queries=(
            "When will {his} little one be born?",
            "When will the new baby arrive?",
        ),
        values=(V(),),
        requires=("she",),
        tags=("medical",),
    ),
]

FITNESS = [
    FactType(
        "exercise",
        "fitness",
        values=(
            V(
                mem=("Swims 40 lengths before work on weekdays",),
                qs=("How far does {he} go in the pool each morning?",),
            ),
            V(
                mem=("Does hot yoga three times a week",),
                qs=("Does {he} go to heated stretching classes?",),
            ),
            V(
                mem=("Lifts weights at the gym on Monday, Wednesday and Friday",),
                qs=("Which days does {he} do strength training?",),
            ),
            V(
                mem=("Cycles 100 km every Sunday with a club",),
                qs=("Does {he} ride bikes with a group at weekends?",),
            ),
            V(
                mem=("Goes bouldering at {r} on Tuesdays",),
                r="The Arch Climbing Wall",
                qs=("What indoor climbing does {he} do?",),
                rqs=("How often does {he} go to {r}?",),
            ),
            V(
                mem=("Rows on a Concept2 machine every morning",),
                qs=("What cardio equipment does {he} use at home?",),
            ),
        ),
        tags=("active",),
    ),
    FactType(
        "marathon",
        "fitness",
        decoys=("Cheered a friend on at the {r} Marathon last year",),
        memory=(
            "Training for the {r} Marathon in {month}",
            "Signed up for the {r} Marathon; aiming for under four hours",
        ),
        queries=("Which long-distance race is {he} preparing for?",),
        rare_queries=("Is {he} running in {r} this year?",),
        values=(
            V(r="Berlin"),
            V(r="Chicago"),
            V(r="Tokyo"),
            V(r="Valencia"),
            V(r="Copenhagen"),
            V(r="Boston"),
        ),
        excludes=("injury",),
        tags=("active",),
    ),
    FactType(
        "sport",
        "fitness",
        memory=(
            "Plays {m} every Sunday morning",
            "Plays {m} in a league on Thursday nights",
        ),
        queries=("What {q} does {he} play?",),
        values=(
            V(m="pickleball", q="paddle sport"),
            V(m="five-a-side football", q="team sport"),
            V(m="ultimate frisbee", q="disc sport"),
            V(m="padel", q="racket sport"),
            V(m="water polo", q="pool-based team game"),
        ),
        tags=("active",),
    ),
]

FAMILY = [
    FactType(
        "partner",
        "family",
        decoys=("Best friend {n} works as a {m}",),
        memory=("Married to {n}, who works as a {m}", "{His} {spouse} {n} is a {m}"),
        queries=("Who is {his} spouse?", "What's the name of the person {he} married?"),
        rare_queries=("What does {n} do for work?",),
        name="person",
        values=(
            V(m="midwife"),
            V(m="software tester"),
            V(m="landscape architect"),
            V(m="firefighter"),
            V(m="sommelier"),
            V(m="pharmacist"),
        ),
        tags=("family",),
    ),
    FactType(
        "child_school",
        "family",
        decoys=("{n}, a friend's {kid}, started secondary school this year",),
        memory=(
            "{Kid} {n} starts kindergarten in September",
            "{Kid} {n} is starting primary school this autumn",
        ),
        queries=("Which of {his} children is about to begin school?",),
        rare_queries=("When is {n}'s first day in class?",),
        name="person",
        values=(V(),),
        requires=("kids",),
        tags=("family", "kids"),
    ),
    FactType(
        "child_sport",
        "family",
        decoys=("{n}, a friend's {kid}, plays rugby at school",),
        memory=(
            "{Kid} {n} plays goalkeeper for an under-10 football team",
            "{Kid} {n} is the goalie in a junior football league",
        ),
        queries=("Which of {his} kids is into soccer?",),
        rare_queries=("What position does {n} play?",),
        name="person",
        values=(V(),),
        requires=("kids",),
        tags=("family", "kids"),
    ),
    FactType(
        "child_music",
        "family",
        decoys=("{n}, a neighbour's {kid}, plays the flute in the school band",),
        memory=(
            "{Kid} {n} has cello lessons every Tuesday",
            "{Kid} {n} is learning the cello",
        ),
        queries=("Which child is studying a string instrument?",),
        rare_queries=("What instrument is {n} taking up?",),
        name="person",
        values=(V(),),
        requires=("kids",),
        tags=("family", "kids"),
    ),
    FactType(
        "child_age",
        "family",
        decoys=("{n}, a friend's {kid}, turned twelve recently",),
        memory=("{Kid} {n} just turned {age}", "{Kid} {n} turned {age} last month"),
        rare_queries=("How old is {n}?",),
        name="person",
        values=(V(),),
        requires=("kids",),
        tags=("family", "kids"),
    ),
    FactType(
        "child_uni",
        "family",
        decoys=("{n}, a friend's {kid}, is applying to study law",),
        memory=(
            "{Kid} {n} is a second-year {m} student at {r}",
            "{Kid} {n} studies {m} at {r}",
        ),
        queries=("Which of the kids is at university?",),
        rare_queries=("What is {n} studying?",),
        name="person",
        values=(
            V(m="marine biology", r="the University of Aberdeen"),
            V(m="architecture", r="TU Delft"),
            V(m="nursing", r="McGill"),
            V(m="economics", r="the University of Bristol"),
        ),
        requires=("kids",),
        tags=("family", "kids"),
    ),
    FactType(
        "sibling",
        "family",
        decoys=("Old friend {n} moved to {city} last year",),
        memory=(
            "Has a twin {sib} called {n} who lives in {city}",
            "{His} older {sib} {n} lives in {city}",
        ),
        queries=("Does {he} have any siblings?",),
        rare_queries=("Where does {n} live these days?",),
        name="person",
        values=(V(),),
        tags=("family",),
    ),
    FactType(
        "parent",
        "family",
        values=(
            V(
                mem=("{His} mother is recovering from hip surgery",),
                qs=("How is {his} mum's health?",),
            ),
            V(
                mem=("Father lives alone in {city}; {he} visits him once a month",),
                qs=("How often does {he} see {his} dad?",),
            ),
            V(
                mem=("Parents are retiring to the Algarve next year",),
                qs=("Where are {his} mum and dad moving when they stop working?",),
            ),
        ),
        tags=("family",),
    ),
    FactType(
        "birthday",
        "family",
        memory=("Birthday is {date}", "Celebrates {his} birthday on {date}"),
        queries=("What date was {he} born?", "When does {he} get a year older?"),
        values=(V(),),
    ),
    FactType(
        "anniversary",
        "family",
        memory=("Wedding anniversary is {date}", "Got married on {date} {year}"),
        queries=("When did {he} tie the knot?",),
        values=(V(),),
        requires=("partner",),
    ),
    FactType(
        "family_event",
        "family",
        values=(
            V(
                mem=("Hosting Thanksgiving for fourteen relatives this year",),
                qs=("Is {he} cooking for a big holiday gathering?",),
            ),
            V(
                mem=("Planning a surprise 60th birthday party for {his} father",),
                qs=("What celebration is {he} organising for {his} dad?",),
            ),
            V(
                mem=("Cousin's wedding in {city} on {date}; {he} is giving a speech",),
                qs=("Whose nuptials is {he} attending soon?",),
            ),
        ),
    ),
]

PETS = [
    FactType(
        "pet_diet",
        "pets",
        decoys=(
            "Sometimes minds the neighbours' {breed2} {n2}, who eats only wet food",
        ),
        memory=(
            "{His} {breed} {n} is on a grain-free diet",
            "{n} the {breed} can only eat prescription kidney food",
        ),
        rare_queries=("What should I put in {n}'s bowl?", "What should {n} be fed?"),
        name="pet",
        values=(V(),),
        tags=("pets",),
    ),
    FactType(
        "pet_fear",
        "pets",
        decoys=("The neighbours' {breed2} {n2} barks at every delivery van",),
        memory=(
            "{n}, {his} {breed}, is terrified of fireworks",
            "{n} the {breed} hides under the bed whenever there's thunder",
        ),
        rare_queries=("How does {n} cope with loud bangs?",),
        name="pet",
        values=(V(),),
        tags=("pets",),
    ),
    FactType(
        "pet_med",
        "pets",
        decoys=("A friend's {breed2} {n2} had surgery on a paw last month",),
        memory=(
            "{n}, the {breed}, takes thyroid tablets twice a day",
            "{n} the {breed} needs an insulin injection every morning",
        ),
        rare_queries=("Is {n} on any medication?",),
        name="pet",
        values=(V(),),
        tags=("pets",),
    ),
    FactType(
        "pet_adopt",
        "pets",
        decoys=(
            "Considered adopting a {breed2} called {n2} but the shelter rehomed it first",
        ),
        memory=(
            "Adopted {n}, a {breed}, from a rescue shelter last spring",
            "Got {n} the {breed} from a rescue charity in {year}",
        ),
        rare_queries=("Where did {n} come from?",),
        name="pet",
        values=(V(),),
        tags=("pets",),
    ),
]

PERSONAL = FOOD + TRAVEL + HEALTH + FITNESS + FAMILY + PETS
