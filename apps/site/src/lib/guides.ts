import { getCollection, type CollectionEntry } from 'astro:content';

export type Guide = CollectionEntry<'guides'>;

export interface GuideQuery {
  /** Words that must all appear in the title, summary or body (case-insensitive). */
  text: string;
  tag: string;
}

export interface GuideListing {
  guides: Guide[];
  total: number;
  tags: { name: string; count: number }[];
}

/** Reads the guides and filters them for one request: the site's per-request server work. */
export async function listGuides(query: GuideQuery): Promise<GuideListing> {
  const all = await getCollection('guides');
  const words = query.text.toLowerCase().split(/\s+/).filter(Boolean);
  const guides = all
    .filter((guide) => !query.tag || guide.data.tags.includes(query.tag))
    .filter((guide) => {
      const haystack = `${guide.data.title} ${guide.data.summary} ${guide.body ?? ''}`.toLowerCase();
      return words.every((word) => haystack.includes(word));
    })
    .sort((a, b) => a.data.order - b.data.order);

  const counts = new Map<string, number>();
  for (const guide of all) for (const tag of guide.data.tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  const tags = [...counts].map(([name, count]) => ({ name, count })).sort((a, b) => a.name.localeCompare(b.name));

  return { guides, total: all.length, tags };
}
