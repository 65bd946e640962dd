/**
 * English abbreviation lists for the scanner. Entries are lower case, without the final period
 * (`u.s` for `U.S.`). Common English words are left out on purpose (`sing`, `pop`, `mass`, `ill`): an
 * abbreviation only ends a sentence before a sentence starter, so a listed word would hide real
 * sentence ends.
 */

/** Splits a white-space separated word list (keeps the lists readable and compact). */
function list(words: string): readonly string[] {
  return Object.freeze(words.trim().split(/\s+/));
}

/**
 * Titles and other abbreviations that are never the last word of a sentence (`Mr. Smith`, `e.g. this`,
 * `Roe v. Wade`). A period after one of them only ends a sentence at the end of a paragraph.
 */
export const NEVER_FINAL_ABBREVIATIONS: readonly string[] = list(`
  mr mrs ms mx messrs mmes mme mlle dr drs prof profs rev revd fr hon pres gov gen col lt sgt capt cpt
  maj cmdr cdr adm brig cpl pvt sen sens rep reps supt insp det atty rt lieut e.g i.e cf viz vs incl
  esp approx ca cca resp op et a.k.a
`);

/** Abbreviations of time of day. A following capitalised word starts a new sentence (`at 6 P.M. Mr. Smith …`). */
export const TIME_ABBREVIATIONS: readonly string[] = list(`
  a.m p.m
`);

/**
 * Words that are abbreviations only before a number (`No. 5`, `art. 3`, `ch. 2`); elsewhere they are
 * ordinary words and a period after them ends the sentence.
 */
export const NUMBER_ABBREVIATIONS: readonly string[] = list(`
  no art ext ch ed fig vol sec pt tab ref ver para n° nr tel ex ep ser iss l p c v
`);

/**
 * Abbreviations that can end a sentence: a period after one ends the sentence only when the next word
 * is a typical sentence starter (`… and Co. It closed.` vs `… & Co. at noon`, `the U.S. Government`).
 */
export const GENERAL_ABBREVIATIONS: readonly string[] = list(`
  inc ltd co corp llc plc bros jr sr esq phd ph.d m.d b.a m.a b.sc m.sc d.phil ll.b ll.m al assn assoc
  dept depts univ intl natl govt mfg mgr mgmt dist div st mt ft ave blvd rd hwy pkwy ln sq ste apt
  bldg u.s u.s.a u.k u.n e.u d.c n.y l.a calif penn fla ariz conn mich minn okla tenn wis wyo colo nev
  neb mont kan ky md vt va pa ga ala ark jan feb apr jun jul aug sep sept oct nov dec mon tue tues thu
  thur thurs fri a.d b.c b.c.e c.e hr hrs mins yr yrs mos wk wks oz lb lbs yd yds sq cu tbsp tsp qt pt
  doz wt deg etc pp figs vols eqs eq nos chap chs paras sect secs refs eds ibid repr abbr
  orig suppl illus esp misc equiv excl n.b p.s q.v r.i.p var subsp ssp spp sp cv syn fam gen nov
`);

/**
 * Capitalised words that typically begin a sentence. After an abbreviation that can end a sentence
 * (`Co.`, `U.S.`, `etc.`) one of these means a new sentence starts; any other capitalised word is read
 * as a name (`the U.S. Government`).
 */
export const SENTENCE_STARTERS: readonly string[] = list(`
  A An The This That These Those There Then Thus They Their It Its He His She Her We Our You Your I My
  In On At As By For From After Before During When Where What Which Who Whom Whose Why How While If
  But And Or So Yet However Also Although Though Because Since Being Did Do Does Is Are Was Were Has
  Have Had Can Could Will Would Should May Many Most More Some Such Each Every All Both No Not None
  One Millions Meanwhile Moreover Furthermore Therefore Nevertheless Nonetheless Instead Later Finally
  Today Now Here Let Please Once Other Another Despite Unlike Like With Without Under Over Between
  Among According Following Although Additionally Still Even Only Hence Indeed Instead Otherwise
  Similarly Consequently Overall
`);

/** Prepositions that open a time phrase at the start of a sentence (`At 5 a.m. Mr. Smith went …`). */
export const TIME_PHRASE_OPENERS: readonly string[] = list(`
  at by from until till before after around about since between on near
`);
