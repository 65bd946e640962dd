/**
 * Sentence-boundary cases: the English "Golden Rules" of the Pragmatic Segmenter (also used by pySBD),
 * written down from that public suite, plus the hard cases listed in issue 2 and real WikiText
 * patterns. `expected` is the exact list of sentence texts. Where the `sentence-splitter` engine cannot
 * produce a split, `engineExpected` records what it does instead and `why`; the README lists them.
 */
import type { SegmentEngine } from '../split.js';

export interface GoldenCase {
  name: string;
  input: string;
  expected: string[];
  /** Engine-specific expectations, used instead of `expected` for that engine. */
  engineExpected?: Partial<Record<SegmentEngine, { expected: string[]; why: string }>>;
}

/** The Golden Rules (English), numbered as in the Pragmatic Segmenter's README. */
export const goldenRules: GoldenCase[] = [
  { name: '1 simple period', input: 'Hello World. My name is Jonas.', expected: ['Hello World.', 'My name is Jonas.'] },
  {
    name: '2 question mark',
    input: 'What is your name? My name is Jonas.',
    expected: ['What is your name?', 'My name is Jonas.'],
  },
  { name: '3 exclamation point', input: 'There it is! I found it.', expected: ['There it is!', 'I found it.'] },
  {
    name: '4 one-letter upper-case abbreviation',
    input: 'My name is Jonas E. Smith.',
    expected: ['My name is Jonas E. Smith.'],
  },
  { name: '5 one-letter lower-case abbreviation', input: 'Please turn to p. 55.', expected: ['Please turn to p. 55.'] },
  {
    name: '6 two-letter lower-case abbreviation mid-sentence',
    input: 'Were Jane and co. at the party?',
    expected: ['Were Jane and co. at the party?'],
  },
  {
    name: '7 two-letter upper-case abbreviation mid-sentence',
    input: 'They closed the deal with Pitt, Briggs & Co. at noon.',
    expected: ['They closed the deal with Pitt, Briggs & Co. at noon.'],
  },
  {
    name: '8 two-letter lower-case abbreviation at sentence end',
    input: "Let's ask Jane and co. They should know.",
    expected: ["Let's ask Jane and co.", 'They should know.'],
  },
  {
    name: '9 two-letter upper-case abbreviation at sentence end',
    input: 'They closed the deal with Pitt, Briggs & Co. It closed yesterday.',
    expected: ['They closed the deal with Pitt, Briggs & Co.', 'It closed yesterday.'],
  },
  {
    name: '10 two-letter prepositive abbreviation',
    input: 'I can see Mt. Fuji from here.',
    expected: ['I can see Mt. Fuji from here.'],
  },
  {
    name: '11 prepositive and postpositive abbreviations',
    input: "St. Michael's Church is on 5th st. near the light.",
    expected: ["St. Michael's Church is on 5th st. near the light."],
  },
  { name: '12 possessive abbreviation', input: "That is JFK Jr.'s book.", expected: ["That is JFK Jr.'s book."] },
  {
    name: '13 multi-period abbreviation mid-sentence',
    input: 'I visited the U.S.A. last year.',
    expected: ['I visited the U.S.A. last year.'],
  },
  {
    name: '14 multi-period abbreviation at sentence end',
    input: 'I live in the E.U. How about you?',
    expected: ['I live in the E.U.', 'How about you?'],
  },
  {
    name: '15 U.S. as sentence boundary',
    input: 'I live in the U.S. How about you?',
    expected: ['I live in the U.S.', 'How about you?'],
  },
  {
    name: '16 U.S. before a capitalised word',
    input: 'I work for the U.S. Government in Virginia.',
    expected: ['I work for the U.S. Government in Virginia.'],
  },
  {
    name: '17 U.S. as non-boundary',
    input: 'I have lived in the U.S. for 20 years.',
    expected: ['I have lived in the U.S. for 20 years.'],
  },
  {
    name: '18 a.m. / P.M. as non-boundary and boundary',
    input: 'At 5 a.m. Mr. Smith went to the bank. He left the bank at 6 P.M. Mr. Smith then went to the store.',
    expected: ['At 5 a.m. Mr. Smith went to the bank.', 'He left the bank at 6 P.M.', 'Mr. Smith then went to the store.'],
  },
  { name: '19 number as non-boundary', input: 'She has $100.00 in her bag.', expected: ['She has $100.00 in her bag.'] },
  {
    name: '20 number as boundary',
    input: 'She has $100.00. It is in her bag.',
    expected: ['She has $100.00.', 'It is in her bag.'],
  },
  {
    name: '21 parenthetical inside sentence',
    input: 'He teaches science (He previously worked for 5 years as an engineer.) at the local University.',
    expected: ['He teaches science (He previously worked for 5 years as an engineer.) at the local University.'],
  },
  {
    name: '22 e-mail address',
    input: 'Her email is Jane.Doe@example.com. I sent her an email.',
    expected: ['Her email is Jane.Doe@example.com.', 'I sent her an email.'],
  },
  {
    name: '23 web address',
    input: 'The site is: https://www.example.50.com/new-site/awesome_content.html. Please check it out.',
    expected: ['The site is: https://www.example.50.com/new-site/awesome_content.html.', 'Please check it out.'],
  },
  {
    name: '24 single quotation inside sentence',
    input: "She turned to him, 'This is great.' she said.",
    expected: ["She turned to him, 'This is great.' she said."],
  },
  {
    name: '25 double quotation inside sentence',
    input: 'She turned to him, "This is great." she said.',
    expected: ['She turned to him, "This is great." she said.'],
  },
  {
    name: '26 double quotation at sentence end',
    input: 'She turned to him, "This is great." She held the book out to show him.',
    expected: ['She turned to him, "This is great."', 'She held the book out to show him.'],
  },
  { name: '27 double exclamation', input: 'Hello!! Long time no see.', expected: ['Hello!!', 'Long time no see.'] },
  { name: '28 double question mark', input: 'Hello?? Who is there?', expected: ['Hello??', 'Who is there?'] },
  { name: '29 exclamation + question mark', input: 'Hello!? Is that you?', expected: ['Hello!?', 'Is that you?'] },
  { name: '30 question + exclamation mark', input: 'Hello?! Is that you?', expected: ['Hello?!', 'Is that you?'] },
  {
    name: '31 list: "1.)" items without final period',
    input: '1.) The first item 2.) The second item',
    expected: ['1.) The first item', '2.) The second item'],
  },
  {
    name: '32 list: "1.)" items with final period',
    input: '1.) The first item. 2.) The second item.',
    expected: ['1.) The first item.', '2.) The second item.'],
  },
  {
    name: '33 list: "1)" items without final period',
    input: '1) The first item 2) The second item',
    expected: ['1) The first item', '2) The second item'],
  },
  {
    name: '34 list: "1)" items with final period',
    input: '1) The first item. 2) The second item.',
    expected: ['1) The first item.', '2) The second item.'],
  },
  {
    name: '35 list: "1." items without final period',
    input: '1. The first item 2. The second item',
    expected: ['1. The first item', '2. The second item'],
  },
  {
    name: '36 list: "1." items with final period',
    input: '1. The first item. 2. The second item.',
    expected: ['1. The first item.', '2. The second item.'],
  },
  {
    name: '37 list with bullets',
    input: '• 9. The first item • 10. The second item',
    expected: ['• 9. The first item', '• 10. The second item'],
  },
  {
    name: '38 list with hyphen bullets',
    input: '⁃9. The first item ⁃10. The second item',
    expected: ['⁃9. The first item', '⁃10. The second item'],
  },
  {
    name: '39 alphabetical list',
    input: 'a. The first item b. The second item c. The third list item',
    expected: ['a. The first item', 'b. The second item', 'c. The third list item'],
  },
  {
    name: '40 errant newline mid-sentence (PDF)',
    input: 'This is a sentence\ncut off in the middle because pdf.',
    expected: ['This is a sentence\ncut off in the middle because pdf.'],
  },
  {
    // The original suite also collapses the white space ("a cold night"); offsets into the input
    // cannot, so the sentence keeps its line break.
    name: '41 errant newline mid-sentence',
    input: 'It was a cold \nnight in the city.',
    expected: ['It was a cold \nnight in the city.'],
  },
  {
    name: '42 lower-case list separated by newlines',
    input: 'features\ncontact manager\nevents, activities\n',
    expected: ['features', 'contact manager', 'events, activities'],
  },
  {
    name: '43 geo coordinates',
    input: 'You can find it at N°. 1026.253.553. That is where the treasure is.',
    expected: ['You can find it at N°. 1026.253.553.', 'That is where the treasure is.'],
  },
  {
    name: '44 named entity with exclamation point',
    input: 'She works at Yahoo! in the accounting department.',
    expected: ['She works at Yahoo! in the accounting department.'],
  },
  {
    name: '45 I as sentence end and as initial',
    input: 'We make a good team, you and I. Did you see Albert I. Jones yesterday?',
    expected: ['We make a good team, you and I.', 'Did you see Albert I. Jones yesterday?'],
  },
  {
    name: '46 ellipsis at end of quotation',
    input:
      'Thoreau argues that by simplifying one’s life, “the laws of the universe will appear less complex. . . .”',
    expected: [
      'Thoreau argues that by simplifying one’s life, “the laws of the universe will appear less complex. . . .”',
    ],
  },
  {
    name: '47 ellipsis in square brackets',
    input: '"Bohr [...] used the analogy of parallel stairways [...]" (Smith 55).',
    expected: ['"Bohr [...] used the analogy of parallel stairways [...]" (Smith 55).'],
  },
  {
    name: '48 ellipsis as sentence boundary (standard rules)',
    input:
      'If words are left off at the end of a sentence, and that is all that is omitted, indicate the omission with ellipsis marks (preceded and followed by a space) and then indicate the end of the sentence with a period . . . . Next sentence.',
    expected: [
      'If words are left off at the end of a sentence, and that is all that is omitted, indicate the omission with ellipsis marks (preceded and followed by a space) and then indicate the end of the sentence with a period . . . .',
      'Next sentence.',
    ],
  },
  {
    name: '49 ellipsis as sentence boundary (non-standard rules)',
    input: 'I never meant that.... She left the store.',
    expected: ['I never meant that....', 'She left the store.'],
  },
  {
    name: '50 ellipsis as non-boundary',
    input: "I wasn’t really ... well, what I mean...see . . . what I'm saying, the thing is . . . I didn’t mean it.",
    expected: ["I wasn’t really ... well, what I mean...see . . . what I'm saying, the thing is . . . I didn’t mean it."],
  },
  {
    name: '51 four-dot ellipsis',
    input:
      'One further habit which was somewhat weakened . . . was that of combining words into self-constituting units. . . . This is the next sentence.',
    expected: [
      'One further habit which was somewhat weakened . . . was that of combining words into self-constituting units. . . .',
      'This is the next sentence.',
    ],
  },
  {
    name: '52 no white space between sentences',
    input: 'Hello world.Today is Tuesday.Mr. Smith went to the store and bought 1,000.That is a lot.',
    expected: ['Hello world.', 'Today is Tuesday.', 'Mr. Smith went to the store and bought 1,000.', 'That is a lot.'],
    engineExpected: {
      'sentence-splitter': {
        expected: ['Hello world.Today is Tuesday.Mr. Smith went to the store and bought 1,000.That is a lot.'],
        why: 'sentence-splitter only proposes a period followed by white space, so glued sentences stay joined',
      },
    },
  },
];

/** Hard cases named in issue 2, the reference quirk table, and WikiText-2 patterns. */
export const hardCases: GoldenCase[] = [
  {
    name: 'titles and p.m. mid-sentence',
    input: 'Dr. Smith arrived at 5 p.m. yesterday. He left early.',
    expected: ['Dr. Smith arrived at 5 p.m. yesterday.', 'He left early.'],
  },
  {
    name: 'Mrs. and Mr.',
    input: 'Mrs. Jones met Mr. Brown. They talked.',
    expected: ['Mrs. Jones met Mr. Brown.', 'They talked.'],
  },
  {
    name: 'e.g. and i.e. mid-sentence',
    input: 'Bring fruit, e.g. apples or pears. Some fruit, i.e. Granny Smiths, keeps well. Done.',
    expected: ['Bring fruit, e.g. apples or pears.', 'Some fruit, i.e. Granny Smiths, keeps well.', 'Done.'],
  },
  {
    name: 'Inc. at sentence end',
    input: 'He works for Acme Inc. The company makes anvils.',
    expected: ['He works for Acme Inc.', 'The company makes anvils.'],
  },
  {
    name: 'Inc. mid-sentence',
    input: 'Acme Inc. makes anvils. Apple Inc. Designs phones in California.',
    expected: ['Acme Inc. makes anvils.', 'Apple Inc. Designs phones in California.'],
  },
  {
    name: 'etc. mid and end',
    input: 'We bought apples, pears, etc. at the store. We ate apples, pears, etc. Then we slept.',
    expected: ['We bought apples, pears, etc. at the store.', 'We ate apples, pears, etc.', 'Then we slept.'],
  },
  {
    name: 'U.S. mid-sentence',
    input: 'The U.S. economy grew fast. Then it slowed.',
    expected: ['The U.S. economy grew fast.', 'Then it slowed.'],
  },
  {
    name: 'U.S. at sentence end',
    input: 'He moved to the U.S. He liked it there.',
    expected: ['He moved to the U.S.', 'He liked it there.'],
  },
  {
    name: 'p.m. at sentence end',
    input: 'The shop closes at 9 p.m. See you there.',
    expected: ['The shop closes at 9 p.m.', 'See you there.'],
  },
  {
    name: 'initials J. R. R.',
    input: 'J. R. R. Tolkien wrote The Hobbit. It was published in 1937.',
    expected: ['J. R. R. Tolkien wrote The Hobbit.', 'It was published in 1937.'],
  },
  {
    name: 'initials after a word',
    input: 'The book by J. K. Rowling sold well. Readers loved it.',
    expected: ['The book by J. K. Rowling sold well.', 'Readers loved it.'],
  },
  {
    name: 'decimals and versions',
    input: 'Pi is about 3.14 roughly. Version 2.0.1 fixed it. The total was about 3.14. It grew.',
    expected: ['Pi is about 3.14 roughly.', 'Version 2.0.1 fixed it.', 'The total was about 3.14.', 'It grew.'],
  },
  {
    name: 'money and thousands',
    input: 'It costs $5.50 today. We sold 1,000.5 tons. Prices rose to $7.25. Nobody was happy.',
    expected: ['It costs $5.50 today.', 'We sold 1,000.5 tons.', 'Prices rose to $7.25.', 'Nobody was happy.'],
  },
  {
    name: 'ellipsis mid-sentence',
    input: 'I was thinking... maybe not. We left.',
    expected: ['I was thinking... maybe not.', 'We left.'],
  },
  {
    name: 'ellipsis at sentence end',
    input: 'He paused... Then he left.',
    expected: ['He paused...', 'Then he left.'],
  },
  {
    name: 'unicode ellipsis',
    input: 'She waited… and waited. Nothing came… Then the bell rang.',
    expected: ['She waited… and waited.', 'Nothing came…', 'Then the bell rang.'],
  },
  {
    name: 'interrobang and mixed punctuation',
    input: 'Really?! Yes. Okay!',
    expected: ['Really?!', 'Yes.', 'Okay!'],
  },
  {
    name: 'quoted exclamations and questions',
    input: '"Stop!" she said. "Why?" he asked.',
    expected: ['"Stop!" she said.', '"Why?" he asked.'],
  },
  {
    name: 'quote closing a sentence before a new one',
    input: 'He said "I am done." Then he left.',
    expected: ['He said "I am done."', 'Then he left.'],
  },
  {
    name: 'curly quotes around a whole sentence',
    input: '“We will win.” The crowd cheered. ‘Maybe,’ he said.',
    expected: ['“We will win.”', 'The crowd cheered.', '‘Maybe,’ he said.'],
  },
  {
    name: 'parentheses around a whole sentence',
    input: 'The test failed. (It had failed before.) We fixed it.',
    expected: ['The test failed.', '(It had failed before.)', 'We fixed it.'],
  },
  {
    name: 'abbreviation inside parentheses',
    input: 'See the chart (see Fig. 3). Next we discuss costs.',
    expected: ['See the chart (see Fig. 3).', 'Next we discuss costs.'],
  },
  {
    name: 'numbered list on lines',
    input: 'Steps:\n1. Mix the flour.\n2. Add water.\n3. Bake for 20 min.',
    expected: ['Steps:', '1. Mix the flour.', '2. Add water.', '3. Bake for 20 min.'],
  },
  {
    name: 'roman numeral list',
    input: 'I. Introduction II. Methods III. Results',
    expected: ['I. Introduction', 'II. Methods', 'III. Results'],
  },
  {
    name: 'URL without final period and www address',
    input: 'Visit www.example.com for details. Or see https://example.org/a.b?c=d. Thanks.',
    expected: ['Visit www.example.com for details.', 'Or see https://example.org/a.b?c=d.', 'Thanks.'],
  },
  {
    name: 'e-mail mid-sentence',
    input: 'Write to john.smith@mail.example.org if needed. He replies fast.',
    expected: ['Write to john.smith@mail.example.org if needed.', 'He replies fast.'],
  },
  {
    name: 'heading line without final punctuation',
    input: 'Introduction\nThe study starts here. It ends there.',
    expected: ['Introduction', 'The study starts here.', 'It ends there.'],
  },
  {
    name: 'headings separated by blank lines',
    input: 'Chapter One\n\nIt was a dark night. The wind howled.\n\nChapter Two\n\nMorning came.',
    expected: ['Chapter One', 'It was a dark night.', 'The wind howled.', 'Chapter Two', 'Morning came.'],
  },
  {
    name: 'line ending in a comma continues',
    input: 'To be, or not to be,\nThat is the question.',
    expected: ['To be, or not to be,\nThat is the question.'],
  },
  {
    name: 'lower-case sentence start after a period',
    input: 'this is odd. another sentence starts here.',
    expected: ['this is odd.', 'another sentence starts here.'],
  },
  {
    name: 'unclosed double quote does not swallow the text',
    input: 'He said "hello. This is one. This is two.',
    expected: ['He said "hello.', 'This is one.', 'This is two.'],
  },
  {
    name: 'unclosed bracket does not swallow the text',
    input: 'Note (see below. This is one. This is two.',
    expected: ['Note (see below.', 'This is one.', 'This is two.'],
  },
  {
    name: 'No. before a number',
    input: 'He lives at No. 5 Main Street. He is nice.',
    expected: ['He lives at No. 5 Main Street.', 'He is nice.'],
  },
  {
    name: 'Jr. and St. mid-sentence',
    input: 'Martin Luther King Jr. was born in Atlanta. He studied at St. Paul.',
    expected: ['Martin Luther King Jr. was born in Atlanta.', 'He studied at St. Paul.'],
  },
  {
    name: 'et al. with year',
    input: 'As shown by Smith et al. (2010), it works. We agree.',
    expected: ['As shown by Smith et al. (2010), it works.', 'We agree.'],
  },
  {
    name: 'WikiText spaced punctuation and @-@ @,@ @.@',
    input:
      ' The lobster is 0 @.@ 7 – 2 @.@ 2 kg in weight , and 1 @,@ 000 were caught . It is a long @-@ lived animal . In life , the lobsters are blue . \n',
    expected: [
      'The lobster is 0 @.@ 7 – 2 @.@ 2 kg in weight , and 1 @,@ 000 were caught .',
      'It is a long @-@ lived animal .',
      'In life , the lobsters are blue .',
    ],
  },
  {
    name: 'WikiText headings',
    input:
      ' \n = Homarus gammarus = \n \n Homarus gammarus is a species of lobster . It is related to H. americanus . \n \n = = Description = = \n \n It is large . \n',
    expected: [
      '= Homarus gammarus =',
      'Homarus gammarus is a species of lobster .',
      'It is related to H. americanus .',
      '= = Description = =',
      'It is large .',
    ],
  },
  {
    name: 'WikiText quotes with spaces',
    input: 'They were called " the best of the best . " The name stuck . He said " no " and left .',
    expected: ['They were called " the best of the best . "', 'The name stuck .', 'He said " no " and left .'],
  },
  {
    name: 'WikiText U.S. and species abbreviations',
    input: 'The U.S. government agreed . The U.S. Army left . It resembles H. gammarus . It is blue .',
    expected: ['The U.S. government agreed .', 'The U.S. Army left .', 'It resembles H. gammarus .', 'It is blue .'],
  },
  {
    name: 'parenthesised letter list',
    input: '(a) The first item (b) The second item (c) The last one',
    expected: ['(a) The first item', '(b) The second item', '(c) The last one'],
  },
  {
    name: 'inline list after a colon',
    input: 'Do this: 1) buy milk 2) sell eggs 3) go home.',
    expected: ['Do this: 1) buy milk', '2) sell eggs', '3) go home.'],
  },
  {
    name: 'lower-case roman numeral list',
    input: 'i. The first item ii. The second item iii. The third item',
    expected: ['i. The first item', 'ii. The second item', 'iii. The third item'],
  },
  { name: 'white bullets', input: '◦ One thing ◦ Another thing', expected: ['◦ One thing', '◦ Another thing'] },
  {
    name: 'initials are not a list',
    input: 'A. B. Smith wrote it. A. Smith and B. Jones agreed.',
    expected: ['A. B. Smith wrote it.', 'A. Smith and B. Jones agreed.'],
  },
  {
    name: 'numbers ending sentences are not a list',
    input: 'I scored 1. He scored 2. We tied.',
    expected: ['I scored 1.', 'He scored 2.', 'We tied.'],
    engineExpected: {
      'sentence-splitter': {
        expected: ['I scored 1. He scored 2. We tied.'],
        why: 'sentence-splitter does not end a sentence at a period right after a number (it reads `1990.` as an ordinal)',
      },
    },
  },
  {
    name: 'ellipsis right after an opening quote',
    input: 'He said “...and then it fell.” Nobody moved.',
    expected: ['He said “...and then it fell.”', 'Nobody moved.'],
  },
  {
    name: 'abbreviation followed by a question mark',
    input: 'Is it 10 a.m.? No, it is 11.',
    expected: ['Is it 10 a.m.?', 'No, it is 11.'],
  },
  {
    name: 'month abbreviation before a day',
    input: 'He was born on Jan. 5, 1990. He died in 2001.',
    expected: ['He was born on Jan. 5, 1990.', 'He died in 2001.'],
    engineExpected: {
      'sentence-splitter': {
        expected: ['He was born on Jan. 5, 1990. He died in 2001.'],
        why: 'sentence-splitter does not end a sentence at a period right after a number (it reads `1990.` as an ordinal)',
      },
    },
  },
  {
    name: 'currency and percent at sentence end',
    input: 'It costs £5. It is cheap. It is 50%. Fine.',
    expected: ['It costs £5.', 'It is cheap.', 'It is 50%.', 'Fine.'],
  },
  {
    name: 'dotted phone number',
    input: 'Call 555.123.4567. Thanks.',
    expected: ['Call 555.123.4567.', 'Thanks.'],
  },
  {
    name: 'single quotes closing a sentence',
    input: "She said, 'Hi.' Then she left.",
    expected: ["She said, 'Hi.'", 'Then she left.'],
  },
  {
    name: 'e.g. and i.e. at sentence start',
    input: 'E.g. apples work. I.e. fruit.',
    expected: ['E.g. apples work.', 'I.e. fruit.'],
  },
  {
    name: 'several abbreviations in one sentence',
    input: 'The U.S. Dept. of Agriculture said no. Okay.',
    expected: ['The U.S. Dept. of Agriculture said no.', 'Okay.'],
  },
  {
    name: 'golden rule 47 without the quotes',
    input: 'Bohr [...] used the analogy of parallel stairways [...] (Smith 55).',
    expected: ['Bohr [...] used the analogy of parallel stairways [...] (Smith 55).'],
  },
  {
    name: 'four-dot ellipsis at the end of a text',
    input:
      'One further habit which was somewhat weakened . . . was that of combining words into self-constituting units. . . .',
    expected: [
      'One further habit which was somewhat weakened . . . was that of combining words into self-constituting units. . . .',
    ],
  },
  {
    name: 'exclamation inside dashes',
    input: 'Mix it, put it in the oven, and -- voila! -- you have cake. Enjoy it.',
    expected: ['Mix it, put it in the oven, and -- voila! -- you have cake.', 'Enjoy it.'],
  },
  {
    name: 'lower- and upper-case initialisms',
    input:
      'The nurse gave him the i.v. in his vein. She gave him the i.v. It was a great I.V. that she gave him. She gave him the I.V. It was night.',
    expected: [
      'The nurse gave him the i.v. in his vein.',
      'She gave him the i.v.',
      'It was a great I.V. that she gave him.',
      'She gave him the I.V.',
      'It was night.',
    ],
  },
  {
    name: 'ordinal after a month abbreviation',
    input: 'Today is Oct. 3rd. Tomorrow is the 4th.',
    expected: ['Today is Oct. 3rd.', 'Tomorrow is the 4th.'],
  },
];
